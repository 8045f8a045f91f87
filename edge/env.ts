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

export type SecretResult = { ok: true; value: string } | { ok: false; message: string };

/**
 * The value of the binding named `name`. Missing, empty, or a Secrets Store binding whose get()
 * throws: not ok, with a message that names the secret and never holds a value.
 */
export async function readSecret(env: Env, name: string): Promise<SecretResult> {
  const binding = (env as unknown as Record<string, unknown>)[name];
  let value: string | undefined;
  if (typeof binding === "string") value = binding;
  else if (binding && typeof (binding as SecretsStoreSecret).get === "function") {
    try {
      value = await (binding as SecretsStoreSecret).get();
    } catch (error) {
      return { ok: false, message: `secret ${name} could not be read: ${(error as Error)?.name ?? "Error"}` };
    }
  }
  const trimmed = typeof value === "string" ? value.trim() : "";
  return trimmed ? { ok: true, value: trimmed } : { ok: false, message: `secret ${name} is not set` };
}

/** A comma-separated key list (PROXY_API_KEYS, ADMIN_API_KEYS) as an array. */
export function keyList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((key) => key.trim())
    .filter(Boolean);
}
