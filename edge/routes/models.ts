// GET /v1/models: the routes a client may use, as OpenAI model objects, with what the route's
// providers declare as extra fields (clients ignore fields they do not know):
//   context_window     the largest context_window among the route's providers that set one
//   max_output_tokens  the largest max_output_tokens likewise
//   capabilities       what at least one of its providers can do
//   strategy           how the route orders its providers
import type { Context } from "hono";
import { capabilitiesOf, CAPABILITIES, routeParts } from "../../shared/config.ts";
import type { ModelList, ModelObject } from "../../shared/openai.ts";
import { routeAllowed } from "../clients/keys.ts";
import type { AppEnv } from "../http.ts";

export function listModels(c: Context<AppEnv>) {
  const config = c.get("config");
  const clientName = c.get("clientName");
  const client = clientName === undefined ? undefined : config.clients[clientName];
  const data = Object.entries(config.routes)
    .filter(([name]) => routeAllowed(client, name))
    .map(([id, route]): ModelObject & Record<string, unknown> => {
      const { providers: ids, strategy } = routeParts(route);
      const providers = ids.map((providerId) => config.providers[providerId]!);
      const largest = (values: Array<number | undefined>) => {
        const known = values.filter((value): value is number => value !== undefined);
        return known.length ? Math.max(...known) : undefined;
      };
      const context_window = largest(providers.map((p) => p.context_window));
      const max_output_tokens = largest(providers.map((p) => p.max_output_tokens));
      const capabilities = CAPABILITIES.filter((capability) => providers.some((p) => capabilitiesOf(p).has(capability)));
      return {
        id,
        object: "model",
        created: 0,
        owned_by: "inferrouter",
        ...(context_window !== undefined && { context_window }),
        ...(max_output_tokens !== undefined && { max_output_tokens }),
        capabilities,
        strategy,
      };
    });
  const list: ModelList = { object: "list", data };
  return c.json(list);
}
