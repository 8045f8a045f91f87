// GET /v1/providers/health (admin keys): is each provider reachable with its key, now? One call
// per provider, all in parallel, each under PROBE_TIMEOUT_MS (or the provider's shorter timeout_ms),
// that spends no completion quota:
// `GET {base_url}/models` with the provider's key, or the sidecar's `/health` for local_gguf.
// Never a chat completion. Reported with the latency and the circuit state the tracker holds.
import type { Context } from "hono";
import type { ProviderConfig } from "../../shared/config.ts";
import type { AppEnv } from "../http.ts";
import { sanitize } from "../normalize.ts";
import { keyHeaders } from "../providers.ts";
import { anthropicHeaders } from "../providers/anthropic/upstream.ts";
import { limitsOf, trackerName } from "../quota/client.ts";

export const PROBE_TIMEOUT_MS = 5_000;

export type ProbeStatus = "reachable" | "auth_failed" | "down" | "key_missing";

export interface ProbeResult {
  status: ProbeStatus;
  /** The probe's HTTP status; 0 when no answer came. */
  http_status: number;
  latency_ms: number;
  url_path: string;
  message?: string;
}

/** Where a provider is probed: the OpenAI model list, or the sidecar's health (beside its /v1). */
export function probeUrl(provider: ProviderConfig): string {
  const base = provider.base_url.replace(/\/+$/, "");
  return provider.type === "local_gguf" ? `${base.replace(/\/v1$/, "")}/health` : `${base}/models`;
}

export async function probe(provider: ProviderConfig, env: AppEnv["Bindings"], timeoutMs = Math.min(PROBE_TIMEOUT_MS, provider.timeout_ms ?? PROBE_TIMEOUT_MS)): Promise<ProbeResult> {
  const url = probeUrl(provider);
  const url_path = new URL(url).pathname;
  const keys = await keyHeaders(provider, env);
  if (!keys.ok) return { status: "key_missing", http_status: 0, latency_ms: 0, url_path, message: keys.message };
  const started = Date.now();
  try {
    const response = await fetch(url, {
      // Anthropic's GET /v1/models wants its version header too.
      headers: { ...provider.headers, accept: "application/json", ...(provider.type === "anthropic" && anthropicHeaders(provider)), ...keys.headers },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    await response.body?.cancel();
    const latency_ms = Date.now() - started;
    const status: ProbeStatus = response.ok ? "reachable" : response.status === 401 || response.status === 403 ? "auth_failed" : "down";
    return { status, http_status: response.status, latency_ms, url_path, ...(status === "down" && { message: `answered ${response.status}` }) };
  } catch (error) {
    const timedOut = (error as Error)?.name === "TimeoutError";
    const message = timedOut ? `no answer within ${timeoutMs} ms` : `network error: ${(error as Error)?.message ?? error}`;
    return { status: "down", http_status: 0, latency_ms: Date.now() - started, url_path, message: sanitize(message, keys.secrets) };
  }
}

export async function providersHealth(c: Context<AppEnv>) {
  const config = c.get("config");
  const entries = await Promise.all(
    Object.entries(config.providers).map(async ([providerId, provider]) => {
      const stub = c.env.QUOTA.get(c.env.QUOTA.idFromName(trackerName(providerId, provider)));
      const limits = limitsOf(provider, config.quota_groups) ?? {};
      const [result, circuit] = await Promise.all([
        probe(provider, c.env),
        (provider.quota_group === undefined ? stub.snapshot(limits) : stub.memberSnapshot(limits, providerId))
          .then((s) => s.circuit)
          // A tracker that cannot answer costs this provider its circuit state, not the whole report.
          .catch(() => null),
      ]);
      return [providerId, { type: provider.type, model: provider.model, ...result, circuit }] as const;
    }),
  );
  return c.json({ object: "providers.health", generated_at: new Date().toISOString(), providers: Object.fromEntries(entries) });
}
