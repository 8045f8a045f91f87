// GET /v1/models and /v1/models/{id}: the routes the request's key may use, as OpenAI model
// objects with the facts their providers declare (routing/facts.ts).
import type { Context } from "hono";
import { anthropicError } from "../../shared/anthropic.ts";
import type { RouterConfig } from "../../shared/config.ts";
import { openAIError } from "../../shared/errors.ts";
import type { ModelList, ModelObject } from "../../shared/openai.ts";
import { requestClient } from "../clients/access.ts";
import { routeAllowed } from "../clients/keys.ts";
import type { AppEnv } from "../http.ts";
import { routeFacts } from "../routing/facts.ts";

const modelObject = (config: RouterConfig, id: string): ModelObject => ({
  id,
  object: "model",
  created: 0,
  owned_by: "inferrouter",
  ...routeFacts(config, id),
});

/** A route as the Anthropic models API lists it (asked with anthropic-version, as its SDKs send). */
const anthropicModel = (id: string) => ({ type: "model", id, display_name: id, created_at: "1970-01-01T00:00:00Z" });
const wantsAnthropic = (c: Context<AppEnv>) => c.req.header("anthropic-version") !== undefined;

export function listModels(c: Context<AppEnv>) {
  const config = c.get("config");
  const client = requestClient(c);
  const ids = Object.keys(config.routes).filter((id) => routeAllowed(client?.config, id));
  if (wantsAnthropic(c)) {
    // Every route in one page: has_more is always false.
    return c.json({ data: ids.map(anthropicModel), has_more: false, first_id: ids[0] ?? null, last_id: ids.at(-1) ?? null });
  }
  const list: ModelList = { object: "list", data: ids.map((id) => modelObject(config, id)) };
  return c.json(list);
}

/**
 * One route by name; no default-route fallback here: the SDK's models.retrieve asks whether it
 * exists. A route the client may not use does not exist for it.
 */
export function retrieveModel(c: Context<AppEnv, "/v1/models/:id">) {
  const config = c.get("config");
  const id = c.req.param("id");
  if (!Object.hasOwn(config.routes, id) || !routeAllowed(requestClient(c)?.config, id)) {
    const message = `The model "${id}" does not exist`;
    if (wantsAnthropic(c)) return c.json(anthropicError("not_found_error", message), 404);
    return c.json(openAIError(message, "invalid_request_error", "model_not_found", "model"), 404);
  }
  return c.json(wantsAnthropic(c) ? anthropicModel(id) : modelObject(config, id));
}
