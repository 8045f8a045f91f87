// ROUTER_CONFIG is validated once per isolate: the result is cached against the raw value, so a
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

export type { RouterConfig };
