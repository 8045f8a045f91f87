// What every endpoint does before and around the chain walk: check the body against its schema,
// find the route (of the endpoint's kind) and walk its chain.
import type { Context } from "hono";
import { validator } from "hono/validator";
import type * as z from "zod";
import { routeEndpoint, routeParts, type Endpoint, type RouterConfig, type Strategy, type StreamRelay } from "../../shared/config.ts";
import { zodToOpenAIError } from "../../shared/errors.ts";
import { walkChain, type ChainRequest } from "../chain/walk.ts";
import { apiError, type AppEnv } from "../http.ts";
import { requestClient, requireRouteAllowed } from "../clients/access.ts";
import { routeAllowed } from "../clients/keys.ts";
import { QuotaClient, quotaOptions } from "../quota/client.ts";

/** Checks the JSON body against `schema`; unknown fields stay in it. The model, when there is one, names the log's route. */
export function validateBody<T extends z.ZodType>(schema: T) {
  return validator("json", (value, c: Context<AppEnv>): z.infer<T> => {
    const model = (value as { model?: unknown } | null)?.model;
    const log = c.get("log");
    if (log && typeof model === "string") log.route = model;
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const type = c.req.header("content-type") ?? "";
    if (!/json/i.test(type)) {
      throw apiError(400, "Content-Type must be application/json", "invalid_request_error", "invalid_content_type");
    }
    // Thrown, not returned, so the request's log line carries the message like every other rejection.
    const { error } = zodToOpenAIError(parsed.error);
    throw apiError(400, error.message, error.type, error.code, error.param);
  });
}

export interface Route {
  name: string;
  chain: readonly string[];
  strategy: Strategy;
  /** How its streams are relayed and whether a broken one may be restarted (the route's own, else the global default). */
  streamRelay: StreamRelay;
  restartOnBreak: boolean;
}

const aliasPatterns = new Map<string, RegExp>();
/** A model_aliases key as a whole-name pattern: `*` matches any run of characters, the rest literally. */
function aliasPattern(alias: string): RegExp {
  let pattern = aliasPatterns.get(alias);
  if (!pattern) {
    pattern = new RegExp(`^${alias.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    aliasPatterns.set(alias, pattern);
  }
  return pattern;
}

/** The route model_aliases maps a model name to (claude-sonnet-4-5 -> coding), if any. */
function aliasedRoute(config: RouterConfig, model: string): string | undefined {
  if (Object.hasOwn(config.model_aliases, model)) return config.model_aliases[model];
  for (const [alias, route] of Object.entries(config.model_aliases)) if (aliasPattern(alias).test(model)) return route;
  return undefined;
}

/** The route a model name asks for: the route of that name, else a model alias, else the default route, else none. */
export function resolveRoute(config: RouterConfig, model: string): Route | undefined {
  // Own keys only: a model named "constructor" or "toString" is not a route.
  const name = Object.hasOwn(config.routes, model) ? model : (aliasedRoute(config, model) ?? config.default_route);
  if (name === undefined) return undefined;
  const { providers, strategy, stream_relay, restart_on_break } = routeParts(config.routes[name]!);
  return { name, chain: providers, strategy, streamRelay: stream_relay ?? config.stream_relay, restartOnBreak: restart_on_break ?? config.restart_on_break };
}

const ENDPOINT_PATHS: Record<Endpoint, string> = { chat: "/v1/chat/completions or /v1/responses", embeddings: "/v1/embeddings" };
const ROUTE_KINDS: Record<Endpoint, string> = { chat: "a chat route", embeddings: "an embeddings route" };

/**
 * The route for `model` that serves `endpoint`: 400 for a route of the other kind named by the
 * client, 404 for an unknown model (also when the default route is of the other kind: the client
 * named no route, so there is none to point it to).
 */
export function requireRoute(c: Context<AppEnv>, model: string, endpoint: Endpoint): Route {
  const config = c.get("config");
  const route = resolveRoute(config, model);
  const serves = route && routeEndpoint(config, route.chain);
  if (!route || (serves !== endpoint && route.name !== model)) {
    // Only the routes this key may use: a client limited to some is not told of the others.
    const client = requestClient(c);
    const known = Object.keys(config.routes).filter((name) => routeAllowed(client?.config, name));
    throw apiError(404, `The model "${model}" does not exist: known models are ${known.join(", ")}`,
      "invalid_request_error", "model_not_found", "model");
  }
  if (serves !== endpoint) {
    throw apiError(400, `The model "${model}" is ${ROUTE_KINDS[serves!]}: use it with ${ENDPOINT_PATHS[serves!]}`,
      "invalid_request_error", "wrong_endpoint", "model");
  }
  return route;
}

/**
 * Starts the request's log and walks the route's chain with `body` (already in the upstream's wire
 * shape). A configured client that may not use the route gets 403 first, before anything counts.
 */
export function walkRoute(
  c: Context<AppEnv>,
  route: Route,
  body: ChainRequest["body"],
  options: { stream: boolean } & Pick<ChainRequest, "endpoint" | "messages">,
): Promise<Response> {
  const config = c.get("config");
  const client = requestClient(c);
  requireRouteAllowed(client, route.name);
  const log = c.get("log");
  log.client = c.get("client");
  log.start(route.name, { stream: options.stream });
  return walkChain({
    config,
    env: c.env,
    route: route.name,
    chain: route.chain,
    strategy: route.strategy,
    streamRelay: route.streamRelay,
    restartOnBreak: route.restartOnBreak,
    body,
    log,
    clientSignal: c.req.raw.signal,
    quota: new QuotaClient(
      c.env,
      (promise) => c.executionCtx.waitUntil(promise),
      (provider, message) => log.quotaUnavailable({ provider, message }),
      quotaOptions(config, client),
    ),
    ...(options.endpoint && { endpoint: options.endpoint }),
    ...(options.messages && { messages: options.messages }),
  });
}
