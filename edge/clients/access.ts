// The configured client a request comes from (when its key is one of clients.<name>), and whether
// it may use a route: what the chat path asks before it starts the walk.
import type { Context } from "hono";
import { apiError, type AppEnv } from "../http.ts";
import type { RequestClient } from "../quota/client.ts";
import { routeAllowed } from "./keys.ts";

/** The request's configured client, or undefined for PROXY_API_KEYS keys and `auth = "none"`. */
export function requestClient(c: Context<AppEnv>): RequestClient | undefined {
  const name = c.get("clientName");
  const config = name === undefined ? undefined : c.get("config").clients[name];
  return name === undefined || !config ? undefined : { name, config };
}

/** 403 model_not_allowed when the client may not use the route (before anything is counted). */
export function requireRouteAllowed(client: RequestClient | undefined, route: string): void {
  if (routeAllowed(client?.config, route)) return;
  throw apiError(403, `The client "${client!.name}" may not use the model "${route}": it may use ${client!.config.routes!.join(", ")}`,
    "invalid_request_error", "model_not_allowed", "model");
}
