// The pure quota logic, with time injected: no sleeping, exact instants.
import { describe, expect, it } from "vitest";
import { cooldownForFailure, cooldownFromHeaders, parseReset } from "../../edge/quota/cooldown.ts";
import { admit, CALL_MARGIN_MS, coolDown, dayKey, emptyState, nextReset, recordTokens, snapshot } from "../../edge/quota/window.ts";
import type { ProviderConfig } from "../../shared/config.ts";

const at = (iso: string) => Date.parse(iso);

describe("sliding 60-second window", () => {
  it("admits at most the limit in any 60-second span, across a fixed-minute boundary", () => {
    const state = emptyState();
    const limits = { requests_per_minute: 5 };
    // Five requests in the last seconds of one clock minute...
    for (let s = 55; s < 60; s++) expect(admit(state, limits, at(`2026-05-01T10:00:${s}Z`)).admitted).toBe(true);
    // ...a fixed minute bucket would reopen at 10:01:00; the sliding window does not.
    expect(admit(state, limits, at("2026-05-01T10:01:00Z"))).toEqual({ admitted: false, reason: "rpm", retryAt: at("2026-05-01T10:01:56Z") });
    expect(admit(state, limits, at("2026-05-01T10:01:55.999Z")).admitted).toBe(false);
    // The oldest request leaves the window 60 s after it was admitted plus CALL_MARGIN_MS (1 s):
    // the time its call may take to reach the provider.
    expect(admit(state, limits, at("2026-05-01T10:01:56Z")).admitted).toBe(true);
    expect(admit(state, limits, at("2026-05-01T10:01:56.5Z")).admitted).toBe(false);
  });

  it("denied requests do not count", () => {
    const state = emptyState();
    const limits = { requests_per_minute: 1 };
    const t = at("2026-05-01T10:00:00Z");
    expect(admit(state, limits, t).admitted).toBe(true);
    for (let i = 1; i < 10; i++) expect(admit(state, limits, t + i * 1000).admitted).toBe(false);
    expect(admit(state, limits, t + 60_000 + CALL_MARGIN_MS).admitted).toBe(true);
    expect(snapshot(state, limits, t + 60_000 + CALL_MARGIN_MS)).toMatchObject({ requests_today: 2, requests_last_minute: 1, checks: 11 });
  });
});

describe("daily counts", () => {
  it("restart at UTC midnight", () => {
    const state = emptyState();
    const limits = { requests_per_day: 2 };
    expect(admit(state, limits, at("2026-05-01T23:59:58Z")).admitted).toBe(true);
    expect(admit(state, limits, at("2026-05-01T23:59:59Z")).admitted).toBe(true);
    expect(admit(state, limits, at("2026-05-01T23:59:59.999Z"))).toEqual({ admitted: false, reason: "daily", retryAt: at("2026-05-02T00:00:00Z") });
    expect(admit(state, limits, at("2026-05-02T00:00:00Z")).admitted).toBe(true);
  });

  it("restart at midnight in the provider's zone", () => {
    const state = emptyState();
    const limits = { requests_per_day: 1, daily_reset_tz: "America/Los_Angeles" };
    // 07:30 UTC on May 2 is 00:30 PDT on May 2; the Pacific day began at 07:00 UTC.
    expect(admit(state, limits, at("2026-05-02T06:59:00Z")).admitted).toBe(true); // May 1 PDT
    expect(admit(state, limits, at("2026-05-02T06:59:30Z"))).toEqual({ admitted: false, reason: "daily", retryAt: at("2026-05-02T07:00:00Z") });
    expect(admit(state, limits, at("2026-05-02T07:00:00Z")).admitted).toBe(true); // May 2 PDT
    expect(dayKey(at("2026-05-02T06:59:00Z"), "America/Los_Angeles")).toBe("2026-05-01");
  });

  it("follow daylight saving changes", () => {
    const zone = "America/Los_Angeles";
    // Spring forward on 2026-03-08: that Pacific day is 23 hours long.
    expect(nextReset(at("2026-03-08T07:30:00Z"), zone)).toBe(at("2026-03-08T08:00:00Z")); // 23:30 PST -> 00:00 PST
    expect(nextReset(at("2026-03-08T12:00:00Z"), zone)).toBe(at("2026-03-09T07:00:00Z")); // -> 00:00 PDT
    // Fall back on 2026-11-01: that day is 25 hours long.
    expect(nextReset(at("2026-11-01T06:30:00Z"), zone)).toBe(at("2026-11-01T07:00:00Z")); // 23:30 PDT -> 00:00 PDT
    expect(nextReset(at("2026-11-01T12:00:00Z"), zone)).toBe(at("2026-11-02T08:00:00Z")); // -> 00:00 PST
    expect(nextReset(at("2026-11-01T12:00:00Z"))).toBe(at("2026-11-02T00:00:00Z"));
    expect(nextReset(at("2026-06-10T12:00:00Z"), "Asia/Kolkata")).toBe(at("2026-06-10T18:30:00Z"));
  });
});

describe("token budgets", () => {
  it("skip a provider over its per-minute tokens until enough leave the window", () => {
    const state = emptyState();
    const limits = { tokens_per_minute: 100 };
    const t = at("2026-05-01T10:00:00Z");
    expect(admit(state, limits, t).admitted).toBe(true);
    recordTokens(state, 60, limits, t + 1000);
    expect(admit(state, limits, t + 2000).admitted).toBe(true);
    recordTokens(state, 50, limits, t + 3000);
    expect(admit(state, limits, t + 4000)).toEqual({ admitted: false, reason: "tokens", retryAt: t + 61_000 });
    expect(admit(state, limits, t + 61_000).admitted).toBe(true);
  });

  it("skip a provider over its daily tokens until the next reset", () => {
    const state = emptyState();
    const limits = { tokens_per_day: 1000 };
    recordTokens(state, 1000, limits, at("2026-05-01T12:00:00Z"));
    expect(admit(state, limits, at("2026-05-01T13:00:00Z"))).toEqual({ admitted: false, reason: "tokens", retryAt: at("2026-05-02T00:00:00Z") });
    expect(admit(state, limits, at("2026-05-02T00:00:01Z")).admitted).toBe(true);
  });
});

describe("cool-downs", () => {
  it("a longer one extends, a shorter one never cuts", () => {
    const state = emptyState();
    const t = at("2026-05-01T10:00:00Z");
    coolDown(state, t + 30_000, "rate_limit");
    coolDown(state, t + 10_000, "rate_limit");
    expect(admit(state, {}, t + 20_000)).toEqual({ admitted: false, reason: "cooldown", retryAt: t + 30_000, cooldownReason: "rate_limit" });
    coolDown(state, t + 90_000, "quota_exceeded");
    expect(admit(state, {}, t + 40_000)).toEqual({ admitted: false, reason: "cooldown", retryAt: t + 90_000, cooldownReason: "quota_exceeded" });
    expect(snapshot(state, {}, t + 40_000)).toMatchObject({ cooldown_reason: "quota_exceeded", cooldown_until: new Date(t + 90_000).toISOString() });
    expect(admit(state, {}, t + 90_000).admitted).toBe(true);
  });

  const provider = { type: "openai_compatible", base_url: "https://x.test/v1", model: "m", error_rules: [] } as ProviderConfig;
  const now = at("2026-05-01T10:00:00Z");

  it("come from what the provider said", () => {
    expect(cooldownForFailure("RateLimit", 7000, undefined, provider, now)).toEqual({ until: now + 7000, reason: "rate_limit" });
    expect(cooldownForFailure("RateLimit", undefined, undefined, provider, now)).toEqual({ until: now + 60_000, reason: "rate_limit" });
    expect(cooldownForFailure("RateLimit", undefined, undefined, { ...provider, rate_limit_cooldown_ms: 5000 }, now)?.until).toBe(now + 5000);
    expect(cooldownForFailure("QuotaExceeded", undefined, undefined, provider, now)).toEqual({ until: at("2026-05-02T00:00:00Z"), reason: "quota_exceeded" });
    expect(cooldownForFailure("QuotaExceeded", undefined, undefined, { ...provider, daily_reset_tz: "America/Los_Angeles" }, now)?.until).toBe(at("2026-05-02T07:00:00Z"));
    expect(cooldownForFailure("AuthError", undefined, undefined, provider, now)).toEqual({ until: now + 300_000, reason: "auth_error" });
    expect(cooldownForFailure("AuthError", undefined, undefined, { ...provider, auth_error_cooldown_ms: 1000 }, now)?.until).toBe(now + 1000);
    expect(cooldownForFailure("ServerError", undefined, new Headers(), provider, now)).toBeUndefined();
  });

  it("come from x-ratelimit-remaining-requests: 0", () => {
    const headers = new Headers({ "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2m59.5s" });
    expect(cooldownFromHeaders(headers, now)).toEqual({ until: now + 179_500, reason: "remaining_requests_0" });
    expect(cooldownFromHeaders(new Headers({ "x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "1s" }), now)).toBeUndefined();
  });

  it("read every reset format providers use", () => {
    expect(parseReset("6m0s", now)).toBe(now + 360_000);
    expect(parseReset("7.66s", now)).toBe(now + 7660);
    expect(parseReset("120ms", now)).toBe(now + 120);
    expect(parseReset("1h2m3s", now)).toBe(now + 3_723_000);
    expect(parseReset("30", now)).toBe(now + 30_000);
    expect(parseReset(String(now + 5000), now)).toBe(now + 5000); // epoch ms (OpenRouter)
    expect(parseReset(String(Math.floor(now / 1000) + 10), now)).toBe(Math.floor(now / 1000) * 1000 + 10_000);
    expect(parseReset("soon", now)).toBeUndefined();
    expect(parseReset(null, now)).toBeUndefined();
  });
});
