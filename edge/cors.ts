// Browser access (cors_origins): Hono's CORS middleware with the configured origins. Preflights
// are answered before auth (browsers send them without the key); no credentials mode, since
// clients authenticate with a bearer key, never cookies. Without cors_origins nothing is added.
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { loadConfig, routerConfigOf } from "./config.ts";
import type { AppEnv } from "./http.ts";

const browserCors = cors({
  origin: (origin, c) => {
    const allowed = corsOrigins(c.env);
    if (allowed.includes("*")) return "*";
    return allowed.includes(origin) ? origin : null;
  },
  allowMethods: ["GET", "POST", "OPTIONS"],
  exposeHeaders: ["x-request-id", "request-id", "x-inferrouter-provider", "x-inferrouter-attempts", "retry-after"],
  maxAge: 600,
});

/** The configured origins; none while the config is invalid (the route then answers its 500). */
function corsOrigins(env: AppEnv["Bindings"]): string[] {
  const result = loadConfig(routerConfigOf(env));
  return result.ok ? result.config.cors_origins : [];
}

export const withCors = createMiddleware<AppEnv>((c, next) => (corsOrigins(c.env).length ? browserCors(c, next) : next()));
