// GET /v1/models: the routes the request's key may use, as OpenAI model objects with the facts
// their providers declare (routing/facts.ts).
import type { Context } from "hono";
import type { ModelList } from "../../shared/openai.ts";
import { requestClient } from "../clients/access.ts";
import { routeAllowed } from "../clients/keys.ts";
import type { AppEnv } from "../http.ts";
import { routeFacts } from "../routing/facts.ts";

export function listModels(c: Context<AppEnv>) {
  const config = c.get("config");
  const client = requestClient(c);
  const data = Object.keys(config.routes)
    .filter((id) => routeAllowed(client?.config, id))
    .map((id) => ({ id, object: "model" as const, created: 0, owned_by: "inferrouter", ...routeFacts(config, id) }));
  const list: ModelList = { object: "list", data };
  return c.json(list);
}
