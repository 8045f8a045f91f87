// Which keys a client may present, and who each one is: PROXY_API_KEYS (unlimited, logged by a
// hash label) and each configured client's key_secret (comma-separated for rotation, logged by
// the client's name, with its routes and limits).
import type { ClientConfig, RouterConfig } from "../../shared/config.ts";
import { keyList, readSecret, type Env } from "../env.ts";

export interface KeyEntry {
  key: string;
  /** The configured client this key belongs to; absent for PROXY_API_KEYS. */
  client?: string;
}

/**
 * A comma-separated key list from a secret (through readSecret, so self-hosted key files rotate
 * without a restart); none when it is not set.
 */
export async function secretKeys(env: Env, name: string): Promise<string[]> {
  const secret = await readSecret(env, name);
  return secret.ok ? keyList(secret.value) : [];
}

/** Every accepted client key. A client whose key_secret is not set has no keys (nobody is it). */
export async function clientKeyEntries(env: Env, config: RouterConfig): Promise<KeyEntry[]> {
  const entries: KeyEntry[] = (await secretKeys(env, "PROXY_API_KEYS")).map((key) => ({ key }));
  for (const [name, client] of Object.entries(config.clients)) {
    for (const key of await secretKeys(env, client.key_secret)) entries.push({ key, client: name });
  }
  return entries;
}

/** May this client use the route? Absent `routes`: every route. */
export function routeAllowed(client: ClientConfig | undefined, route: string): boolean {
  return !client?.routes || client.routes.includes(route);
}
