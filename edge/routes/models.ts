// GET /v1/models and /v1/models/{id}: the routes the request's key may use, as OpenAI model
// objects with the facts their providers declare (routing/facts.ts).
import type { Context } from "hono";
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

export function listModels(c: Context<AppEnv>) {
  const config = c.get("config");
  const client = requestClient(c);
  const data = Object.keys(config.routes)
    .filter((id) => routeAllowed(client?.config, id))
    .map((id) => modelObject(config, id));
  const list: ModelList = { object: "list", data };
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
    return c.json(openAIError(`The model "${id}" does not exist`, "invalid_request_error", "model_not_found", "model"), 404);
  }
  return c.json(modelObject(config, id));
}
