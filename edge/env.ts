// The Worker's bindings. Provider keys are looked up by the names the config gives
// (`api_key_secret`), so any secret, var or Secrets Store binding name works.
import type { QuotaTracker } from "./quota/tracker.ts";

export interface Env {
  ROUTER_CONFIG?: unknown;
  PROXY_API_KEYS?: string;
  ADMIN_API_KEYS?: string;
  QUOTA: DurableObjectNamespace<QuotaTracker>;
}

/** Secrets Store bindings expose `get()`; plain secrets and vars are strings. */
interface SecretsStoreSecret {
  get(): Promise<string>;
}

/** The value of the binding named `name`, or undefined when it is missing or empty. */
export async function readSecret(env: Env, name: string | undefined): Promise<string | undefined> {
  if (!name) return undefined;
  const binding = (env as unknown as Record<string, unknown>)[name];
  if (typeof binding === "string") return binding.trim() || undefined;
  if (binding && typeof (binding as SecretsStoreSecret).get === "function") {
    const value = await (binding as SecretsStoreSecret).get();
    return value.trim() || undefined;
  }
  return undefined;
}

/** A comma-separated key list (PROXY_API_KEYS, ADMIN_API_KEYS) as an array. */
export function keyList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((key) => key.trim())
    .filter(Boolean);
}
