// GET /v1/models and /v1/models/{id}: the configured routes as OpenAI model objects.
import type { Context } from "hono";
import { openAIError } from "../../shared/errors.ts";
import type { ModelList, ModelObject } from "../../shared/openai.ts";
import type { AppEnv } from "../http.ts";

const modelObject = (id: string): ModelObject => ({ id, object: "model", created: 0, owned_by: "inferrouter" });

export function listModels(c: Context<AppEnv>) {
  const list: ModelList = { object: "list", data: Object.keys(c.get("config").routes).map(modelObject) };
  return c.json(list);
}

/** One route by name; no default-route fallback here: the SDK's models.retrieve asks whether it exists. */
export function retrieveModel(c: Context<AppEnv, "/v1/models/:id">) {
  const id = c.req.param("id");
  if (!Object.hasOwn(c.get("config").routes, id)) {
    return c.json(openAIError(`The model "${id}" does not exist`, "invalid_request_error", "model_not_found", "model"), 404);
  }
  return c.json(modelObject(id));
}
