// The Worker's bindings. Provider keys are looked up by the names the config gives
// (`api_key_secret`), so any secret, var or Secrets Store binding name works. Self-hosted
// (`npm run serve`), secrets are files in a directory that workerd exposes as a disk service.
import { SECRET_NAME } from "../shared/config.ts";
import type { QuotaTracker } from "./quota/tracker.ts";
import type { UsageStore } from "./usage/store.ts";

export interface Env {
  ROUTER_CONFIG?: unknown;
  PROXY_API_KEYS?: string;
  ADMIN_API_KEYS?: string;
  QUOTA: DurableObjectNamespace<QuotaTracker>;
  /** The hourly usage history (usage/store.ts); absent, nothing is recorded. */
  USAGE?: DurableObjectNamespace<UsageStore>;
  /** Milliseconds between an isolate's history writes (default 2000; tests set 0). */
  USAGE_FLUSH_MS?: string;
  /** Self-hosted only: the token `npm run serve` calls POST /internal/usage/flush with before a stop. */
  USAGE_FLUSH_TOKEN?: string;
  /** A bearer token for GET /metrics alone (a scraper), besides the admin keys. */
  METRICS_TOKEN?: string;
  /** Self-hosted only: the secrets directory (one file per secret name), a read-only disk service. */
  SECRETS_DIR?: Fetcher;
  /** Self-hosted only: the directory of daily operation-log files, a read-only disk service. */
  LOGS_DIR?: Fetcher;
}

/** Secrets Store bindings expose `get()`; plain secrets and vars are strings. */
interface SecretsStoreSecret {
  get(): Promise<string>;
}

/** How long a secret file's content is reused: rotating a file takes effect within this. */
const SECRET_FILE_TTL_MS = 1_000;
/**
 * What each secret file held when last read. Only the settled text is shared between requests:
 * a read in flight belongs to the request that started it (its response body is that request's
 * I/O object; another request awaiting it can fail with "Cannot perform I/O on behalf of a
 * different request"), so concurrent misses each read the file.
 */
const secretFiles = new Map<string, { at: number; value: string | undefined }>();

/** A secret file through the disk service, its content cached for at most a second. */
async function readSecretFile(dir: Fetcher, name: string): Promise<string | undefined> {
  // The config allows no other names; this keeps a name from ever reaching outside the directory.
  if (!SECRET_NAME.test(name)) return undefined;
  const at = Date.now();
  const cached = secretFiles.get(name);
  if (cached && at - cached.at < SECRET_FILE_TTL_MS) return cached.value;
  // A failed read throws and is not kept: the next request tries again.
  const res = await dir.fetch(`http://secrets/${name}`);
  const value = res.ok ? (await res.text()).trim() || undefined : (await res.body?.cancel(), undefined);
  secretFiles.set(name, { at, value });
  return value;
}

export type SecretResult = { ok: true; value: string } | { ok: false; message: string };

/**
 * The value of the binding named `name`, else (self-hosted) of its file in SECRETS_DIR. Missing,
 * empty, or a Secrets Store binding whose get() throws: not ok, with a message that names the
 * secret and never holds a value.
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
  if (value === undefined && env.SECRETS_DIR) value = await readSecretFile(env.SECRETS_DIR, name).catch(() => undefined);
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
