// POST /v1/chat/completions: validate the body, pick the route, walk its chain.
import type { Context } from "hono";
import { validator } from "hono/validator";
import { routeParts, type RouterConfig, type Strategy } from "../shared/config.ts";
import { zodToOpenAIError } from "../shared/errors.ts";
import { ChatCompletionRequestSchema, type ChatCompletionRequest } from "../shared/openai.ts";
import { walkChain } from "./chain/walk.ts";
import { requestClient, requireRouteAllowed } from "./clients/access.ts";
import { apiError, type AppEnv } from "./http.ts";
import { QuotaClient } from "./quota/client.ts";

/** Checks the body against the OpenAI schema; unknown fields stay in it and go upstream untouched. */
export const validateChatRequest = validator("json", (value, c: Context<AppEnv>) => {
  const model = (value as { model?: unknown } | null)?.model;
  if (typeof model === "string") c.get("log").route = model;
  const parsed = ChatCompletionRequestSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const type = c.req.header("content-type") ?? "";
  if (!/json/i.test(type)) {
    throw apiError(400, "Content-Type must be application/json", "invalid_request_error", "invalid_content_type");
  }
  // Thrown, not returned, so the request's log line carries the message like every other rejection.
  const { error } = zodToOpenAIError(parsed.error);
  throw apiError(400, error.message, error.type, error.code, error.param);
});

export interface Route {
  name: string;
  chain: readonly string[];
  strategy: Strategy;
}

/** The route a model name asks for: a configured alias, else the default route, else none. */
export function resolveRoute(config: RouterConfig, model: string): Route | undefined {
  // Own keys only: a model named "constructor" or "toString" is not a route.
  const name = Object.hasOwn(config.routes, model) ? model : config.default_route;
  if (name === undefined) return undefined;
  const { providers, strategy } = routeParts(config.routes[name]!);
  return { name, chain: providers, strategy };
}

export async function chatCompletions(c: Context<AppEnv, "/v1/chat/completions", { out: { json: ChatCompletionRequest } }>) {
  const body = c.req.valid("json");
  const config = c.get("config");
  const log = c.get("log");
  const route = resolveRoute(config, body.model);
  if (!route) {
    throw apiError(404, `The model "${body.model}" does not exist: known models are ${Object.keys(config.routes).join(", ")}`,
      "invalid_request_error", "model_not_found", "model");
  }
  const client = requestClient(c);
  requireRouteAllowed(client, route.name);
  log.client = c.get("client");
  log.start(route.name, { stream: body.stream === true });
  const response = await walkChain({
    config,
    env: c.env,
    route: route.name,
    chain: route.chain,
    strategy: route.strategy,
    body,
    log,
    clientSignal: c.req.raw.signal,
    quota: new QuotaClient(
      c.env,
      (promise) => c.executionCtx.waitUntil(promise),
      (provider, message) => log.quotaUnavailable({ provider, message }),
      { groups: config.quota_groups, client },
    ),
  });
  // Through the context, so the headers set by middleware (x-request-id) are added; the body is not copied.
  return c.newResponse(response.body, response);
}
