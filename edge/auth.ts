// Client and admin auth: Hono's bearerAuth against the comma-separated key lists, compared in
// constant time. The key itself never leaves this file: logs get a short hash label.
import { createMiddleware } from "hono/factory";
import { timingSafeEqual } from "hono/utils/buffer";
import type { MiddlewareHandler } from "hono";
import { openAIBearerAuth } from "../shared/bearer.ts";
import { keyList, readSecret } from "./env.ts";
import { apiError, type AppEnv } from "./http.ts";

const labels = new Map<string, string>();

/** `key:` and the first 8 hex digits of the key's SHA-256: enough to tell keys apart in logs. */
async function keyLabel(key: string): Promise<string> {
  let label = labels.get(key);
  if (!label) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
    label = `key:${[...digest.slice(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
    if (labels.size > 256) labels.clear();
    labels.set(key, label);
  }
  return label;
}

/** Bearer auth over one key list; every key is compared so timing does not tell which one matched. */
function keyAuth(keys: string[]): MiddlewareHandler<AppEnv> {
  return openAIBearerAuth<AppEnv>(
    async (token, c) => {
      let matched: string | undefined;
      for (const key of keys) if (await timingSafeEqual(key, token)) matched = key;
      if (matched) c.set("client", await keyLabel(matched));
      return matched !== undefined;
    },
    {
      missing: "Missing API key: send Authorization: Bearer <key>",
      malformed: "Malformed Authorization header: expected Bearer <key>",
      invalid: "Incorrect API key provided",
    },
  );
}

const byKeys = new Map<string, MiddlewareHandler<AppEnv>>();

/** Auth against the key list in the env var `name`, built once per distinct list. */
function authFrom(name: "PROXY_API_KEYS" | "ADMIN_API_KEYS", missing: string): MiddlewareHandler<AppEnv> {
  return createMiddleware<AppEnv>(async (c, next) => {
    // Through readSecret, so self-hosted key files rotate without a restart.
    const secret = await readSecret(c.env, name);
    const raw = secret.ok ? secret.value : "";
    const keys = keyList(raw);
    if (!keys.length) throw apiError(500, missing, "server_error", "auth_not_configured");
    let handler = byKeys.get(`${name}=${raw}`);
    if (!handler) byKeys.set(`${name}=${raw}`, (handler = keyAuth(keys)));
    return handler(c, next);
  });
}

const proxyKeys = authFrom(
  "PROXY_API_KEYS",
  'No client API keys are configured: set the PROXY_API_KEYS secret (comma-separated), or set auth = "none" in ROUTER_CONFIG for local development',
);

/** Client auth for /v1/*: PROXY_API_KEYS, unless the config says `auth = "none"`. */
export const clientAuth = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("config").auth === "none") {
    c.set("client", "anonymous");
    return next();
  }
  return proxyKeys(c, next);
});

/** Admin auth for operator endpoints: ADMIN_API_KEYS, separate from client keys, never optional. */
export const adminAuth = authFrom("ADMIN_API_KEYS", "No admin API keys are configured: set the ADMIN_API_KEYS secret");
