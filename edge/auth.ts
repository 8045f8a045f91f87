// Client and admin auth: Hono's bearerAuth against the comma-separated key lists, compared in
// constant time. The key itself never leaves this file: logs get a short hash label.
import { createMiddleware } from "hono/factory";
import { timingSafeEqual } from "hono/utils/buffer";
import type { Context, MiddlewareHandler } from "hono";
import type { RouterConfig } from "../shared/config.ts";
import { openAIBearerAuth } from "../shared/bearer.ts";
import { clientKeyEntries, secretKeys, type KeyEntry } from "./clients/keys.ts";
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

/** The x-api-key header (what the Anthropic SDKs and Claude Code send): the bare key. */
const X_API_KEY = { headerName: "x-api-key", prefix: "" };

/** A refusal for a token that is a real key of another kind (a client key on an operator endpoint). */
type WrongKind = (token: string, c: Context<AppEnv>) => Promise<never | void>;

/**
 * Bearer auth over one key list; every key is compared so timing does not tell which one matched.
 * A configured client's key logs as the client's name (and sets clientName), any other as its label.
 * The key is read from Authorization, or from x-api-key when the request sends only that.
 */
function keyAuth(keys: KeyEntry[], wrongKind?: WrongKind): MiddlewareHandler<AppEnv> {
  const verify = async (token: string, c: Context<AppEnv>) => {
    let matched: KeyEntry | undefined;
    for (const entry of keys) if (await timingSafeEqual(entry.key, token)) matched = entry;
    if (matched?.client !== undefined) {
      c.set("client", matched.client);
      c.set("clientName", matched.client);
    } else if (matched) c.set("client", await keyLabel(matched.key));
    if (!matched) await wrongKind?.(token, c);
    return matched !== undefined;
  };
  const messages = {
    missing: "Missing API key: send Authorization: Bearer <key> (or x-api-key: <key>)",
    malformed: "Malformed Authorization header: expected Bearer <key>",
    invalid: "Incorrect API key provided",
  };
  const bearer = openAIBearerAuth<AppEnv>(verify, messages);
  const apiKey = openAIBearerAuth<AppEnv>(verify, messages, X_API_KEY);
  return (c, next) => (c.req.header("authorization") === undefined && c.req.header("x-api-key") !== undefined ? apiKey : bearer)(c, next);
}

/** Auth against the key list `keys` gives, built once per distinct list. */
function authFrom(keys: (c: Context<AppEnv>) => Promise<KeyEntry[]>, missing: string, wrongKind?: WrongKind): MiddlewareHandler<AppEnv> {
  const byKeys = new Map<string, MiddlewareHandler<AppEnv>>();
  return createMiddleware<AppEnv>(async (c, next) => {
    const entries = await keys(c);
    if (!entries.length) throw apiError(500, missing, "server_error", "auth_not_configured");
    const id = JSON.stringify(entries);
    let handler = byKeys.get(id);
    if (!handler) {
      if (byKeys.size > 64) byKeys.clear();
      byKeys.set(id, (handler = keyAuth(entries, wrongKind)));
    }
    return handler(c, next);
  });
}

/**
 * On an operator endpoint a client key is the right key of the wrong kind: 403 naming the key the
 * endpoint needs, not 401 "Incorrect API key". (/v1/logs runs without the config: PROXY_API_KEYS only.)
 */
function clientKeyRefused(needs: string): WrongKind {
  return async (token, c) => {
    const config = c.get("config") as RouterConfig | undefined;
    const entries = config ? await clientKeyEntries(c.env, config) : (await secretKeys(c.env, "PROXY_API_KEYS")).map((key) => ({ key }));
    let isClientKey = false;
    for (const entry of entries) if (await timingSafeEqual(entry.key, token)) isClientKey = true;
    if (isClientKey) {
      throw apiError(403, `This endpoint needs ${needs}; the key sent is a client key`, "permission_error", "admin_key_required");
    }
  };
}

const proxyKeys = authFrom(
  (c) => clientKeyEntries(c.env, c.get("config")),
  'No client API keys are configured: set the PROXY_API_KEYS secret (comma-separated) or a client\'s key_secret, or set auth = "none" in ROUTER_CONFIG for local development',
);

/** Does the request carry one of ADMIN_API_KEYS? (For answers that tell operators more, not for access.) */
export async function carriesAdminKey(c: Context<AppEnv>): Promise<boolean> {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];
  if (!token) return false;
  let matched = false;
  for (const key of await secretKeys(c.env, "ADMIN_API_KEYS")) if (await timingSafeEqual(key, token)) matched = true;
  return matched;
}

/** Client auth for /v1/*: PROXY_API_KEYS, unless the config says `auth = "none"`. */
export const clientAuth = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("config").auth === "none") {
    c.set("client", "anonymous");
    return next();
  }
  return proxyKeys(c, next);
});

/** GET /metrics: an admin key, or METRICS_TOKEN (a scraper's token that opens nothing else). */
export const metricsAuth = authFrom(
  async (c) => [...(await secretKeys(c.env, "ADMIN_API_KEYS")), ...(await secretKeys(c.env, "METRICS_TOKEN"))].map((key) => ({ key })),
  "No admin API keys or METRICS_TOKEN are configured: set one of these secrets",
  clientKeyRefused("an admin key (ADMIN_API_KEYS) or METRICS_TOKEN"),
);

/** Admin auth for operator endpoints: ADMIN_API_KEYS, separate from client keys, never optional. */
export const adminAuth = authFrom(
  async (c) => (await secretKeys(c.env, "ADMIN_API_KEYS")).map((key) => ({ key })),
  "No admin API keys are configured: set the ADMIN_API_KEYS secret",
  clientKeyRefused("an admin key (ADMIN_API_KEYS)"),
);
