// The router config (ROUTER_CONFIG, else the one a deploy bundled) is validated once per isolate: the result is cached against the raw value, so a
// changed binding (a new deploy, or a test's own env) is validated again and nothing else is.
import { parseRouterConfig, type RouterConfig } from "../shared/config.ts";

type ConfigResult = ReturnType<typeof parseRouterConfig>;

const byObject = new WeakMap<object, ConfigResult>();
const byString = new Map<string, ConfigResult>();

export function loadConfig(raw: unknown): ConfigResult {
  if (raw !== null && typeof raw === "object") {
    let result = byObject.get(raw);
    if (!result) byObject.set(raw, (result = parseRouterConfig(raw)));
    return result;
  }
  const key = String(raw ?? "");
  let result = byString.get(key);
  if (!result) {
    if (byString.size > 16) byString.clear();
    byString.set(key, (result = parseRouterConfig(raw)));
  }
  return result;
}

/**
 * The config a deploy bundled into the Worker (`npm run deploy` with a router.toml: too big for a
 * variable, which Cloudflare caps at 5 KB), as JSON text; absent in any other build.
 */
declare const BUNDLED_ROUTER_CONFIG: string | undefined;
const bundled = typeof BUNDLED_ROUTER_CONFIG === "undefined" ? undefined : BUNDLED_ROUTER_CONFIG;

/** The config this Worker runs: a ROUTER_CONFIG variable when one is set (the override), else the bundled one. */
export function routerConfigOf(env: { ROUTER_CONFIG?: unknown }): unknown {
  return env.ROUTER_CONFIG ?? bundled;
}

export type { RouterConfig };
