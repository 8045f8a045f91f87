// When a failed call is tried again on the same provider, and after how long. Only before any
// byte reached the client, within the request's deadline and attempt cap, and never a circuit's
// trial (which is one call by definition).
import { PROVIDER_DEFAULTS, type ProviderConfig } from "../../shared/config.ts";
import type { AttemptFailure } from "./types.ts";

/** Answers worth asking again at once: the provider stumbled, it did not refuse. */
const RETRIED_STATUSES = new Set([0, 500, 502, 503]);

export interface RetryState {
  /** Backoff retries made so far on this provider. */
  retries: number;
  /** A short retry-after was already waited out once. */
  waitedForRetryAfter: boolean;
}

/** How long to wait before calling the provider again, or undefined to move on. */
export function retryDelay(failed: AttemptFailure, provider: ProviderConfig, state: RetryState, random: () => number = Math.random): number | undefined {
  const maxWait = provider.max_retry_wait_ms ?? PROVIDER_DEFAULTS.max_retry_wait_ms;
  if (failed.category === "RateLimit") {
    // A short per-second limit is cheaper to wait out than to fail over; a long one, or none given, is not.
    if (state.waitedForRetryAfter || failed.retryAfterMs === undefined || failed.retryAfterMs > maxWait) return undefined;
    state.waitedForRetryAfter = true;
    return failed.retryAfterMs;
  }
  // A timeout is never retried: a silent provider stays silent, and waiting again doubles the client's wait.
  const stumbled = failed.category === "NetworkError" || (failed.category === "ServerError" && RETRIED_STATUSES.has(failed.status));
  if (!stumbled || state.retries >= (provider.retries ?? PROVIDER_DEFAULTS.retries)) return undefined;
  // A 503 that says how long it will be down is believed: not retried sooner, nor at all past max_retry_wait_ms.
  if (failed.retryAfterMs !== undefined && failed.retryAfterMs > maxWait) return undefined;
  const base = (provider.retry_backoff_ms ?? PROVIDER_DEFAULTS.retry_backoff_ms) * 2 ** state.retries;
  state.retries++;
  // Jitter (0.5x to 1.5x) keeps clients that failed together from retrying together.
  return Math.max(Math.round(base * (0.5 + random())), failed.retryAfterMs ?? 0);
}

/** Waits `ms`, or less if the client goes away first. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  const done = AbortSignal.any([AbortSignal.timeout(ms), signal]);
  return new Promise((resolve) => done.addEventListener("abort", () => resolve(), { once: true }));
}
