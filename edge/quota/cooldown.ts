// When to stop calling a provider after what it said: retry-after on a 429, the next daily reset
// on a quota answer, a longer pause on a dead key, or its own "0 requests remaining" headers.
import type { ProviderConfig } from "../../shared/config.ts";
import type { ErrorCategory } from "../../shared/errors.ts";
import { nextReset } from "./window.ts";

export const DEFAULT_RATE_LIMIT_COOLDOWN_MS = 60_000;
export const DEFAULT_AUTH_ERROR_COOLDOWN_MS = 300_000;

export interface Cooldown {
  until: number;
  reason: string;
}

/** The cool-down a failed attempt earns, if any. */
export function cooldownForFailure(
  category: ErrorCategory,
  retryAfterMs: number | undefined,
  headers: Headers | undefined,
  provider: ProviderConfig,
  now: number,
): Cooldown | undefined {
  switch (category) {
    case "RateLimit":
      return { until: now + (retryAfterMs ?? provider.rate_limit_cooldown_ms ?? DEFAULT_RATE_LIMIT_COOLDOWN_MS), reason: "rate_limit" };
    case "QuotaExceeded":
      return { until: Math.max(nextReset(now, provider.daily_reset_tz), now + (retryAfterMs ?? 0)), reason: "quota_exceeded" };
    case "AuthError":
      return { until: now + (provider.auth_error_cooldown_ms ?? DEFAULT_AUTH_ERROR_COOLDOWN_MS), reason: "auth_error" };
    default:
      return headers ? cooldownFromHeaders(headers, now) : undefined;
  }
}

/** `x-ratelimit-remaining-requests: 0` with `x-ratelimit-reset-requests`: out until that reset. */
export function cooldownFromHeaders(headers: Headers, now: number): Cooldown | undefined {
  if (headers.get("x-ratelimit-remaining-requests")?.trim() !== "0") return undefined;
  const reset = parseReset(headers.get("x-ratelimit-reset-requests"), now);
  return reset === undefined ? undefined : { until: reset, reason: "remaining_requests_0" };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A reset as providers write it: a duration ("6m0s", "7.66s", "120ms"), plain seconds ("30"),
 * or an epoch time in seconds or milliseconds (OpenRouter).
 */
export function parseReset(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  const number = Number(text);
  if (text !== "" && Number.isFinite(number)) {
    if (number > 1e12) return number;
    if (number > 1e9) return number * 1000;
    return now + number * 1000;
  }
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (!parts.length || parts.map((p) => p[0]).join("") !== text) return undefined;
  return now + parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * UNIT_MS[unit!]!, 0);
}
