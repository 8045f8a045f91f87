// Quota tracking end to end: the Worker in workerd with real QuotaTracker Durable Objects.
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { trackerName } from "../../edge/quota/client.ts";
import type { ProviderConfig } from "../../shared/config.ts";
import { call, chainConfig, chat, provider, scenario, settled } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const ADMIN = { authorization: "Bearer sk-test-admin" };

interface ProviderQuota {
  requests_today: number;
  requests_last_minute: number;
  tokens_today: number;
  cooldown_until: string | null;
  cooldown_reason: string | null;
  checks: number;
  next_reset: string;
}

async function quota(config: unknown): Promise<Record<string, ProviderQuota>> {
  const res = await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN });
  expect(res.status).toBe(200);
  return ((await res.json()) as { providers: Record<string, ProviderQuota> }).providers;
}

const skipped = (providerId: string) => logs.events().filter((e) => e.event === "infer_skipped" && e.provider === providerId);

describe("admission is exact", () => {
  it("200 concurrent requests against requests_per_minute = 10 reach the provider exactly 10 times", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_minute: 10 }), b: provider(b.baseUrl) });
    const responses = await Promise.all(Array.from({ length: 200 }, () => call({ config })));
    expect(responses.every((res) => res.status === 200)).toBe(true);
    const servedBy = responses.map((res) => res.headers.get("x-inferrouter-provider"));
    expect(servedBy.filter((id) => id === "a")).toHaveLength(10);
    expect(await a.calls()).toHaveLength(10);
    expect(await b.calls()).toHaveLength(190);
    expect(skipped("a").every((e) => e.reason === "rpm")).toBe(true);
  });

  it("answers 429 with retry-after to the rest when there is no other provider", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_minute: 10 }) });
    const responses = await Promise.all(Array.from({ length: 40 }, () => call({ config })));
    const limited = responses.filter((res) => res.status === 429);
    expect(responses.filter((res) => res.status === 200)).toHaveLength(10);
    expect(limited).toHaveLength(30);
    const seconds = Number(limited[0]!.headers.get("retry-after"));
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(61); // the 60 s window plus CALL_MARGIN_MS
    expect(await a.calls()).toHaveLength(10);
  });

  it("skips a provider whose daily count is spent, with the reason and the next reset", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_day: 2 }), b: provider(b.baseUrl) });
    for (let i = 0; i < 4; i++) await call({ config });
    expect(await a.calls()).toHaveLength(2);
    const [skip] = skipped("a");
    expect(skip).toMatchObject({ reason: "daily" });
    expect(skip!.retry_at).toBe((await quota(config)).a!.next_reset);
  });
});

describe("the isolate cache", () => {
  it("answers for an exhausted provider without a tracker call", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_day: 1 }), b: provider(b.baseUrl) });
    await call({ config }); // admitted: 1 check
    await call({ config }); // denied by the tracker: 2 checks; the denial is cached
    expect((await quota(config)).a!.checks).toBe(2);
    for (let i = 0; i < 5; i++) expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("b");
    expect((await quota(config)).a!.checks).toBe(2);
    expect(skipped("a")).toHaveLength(6);
  });

  it("makes no tracker call for a provider without limits", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl) });
    for (let i = 0; i < 3; i++) await call({ config });
    expect((await quota(config)).a!.checks).toBe(0);
  });
});

describe("cool-downs from what providers say", () => {
  it("a 429 with retry-after stops calls until then, here and in the tracker", async () => {
    const a = await scenario([{ type: "json", status: 429, headers: { "retry-after": "120" }, body: { error: { message: "slow" } } }, { type: "json" }]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_day: 100 }), b: provider(b.baseUrl) });
    const before = Date.now();
    await call({ config });
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("b");
    expect(await a.calls()).toHaveLength(1);
    const [skip] = skipped("a");
    expect(skip).toMatchObject({ reason: "cooldown" });
    const retryAt = Date.parse(skip!.retry_at!);
    expect(retryAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(retryAt).toBeLessThan(Date.now() + 121_000);
    expect((await quota(config)).a).toMatchObject({ cooldown_reason: "rate_limit", cooldown_until: skip!.retry_at });
  });

  it("a daily-quota answer stops calls until the provider's next reset", async () => {
    const a = await scenario([{ type: "json", status: 429, body: { error: { message: "Rate limit exceeded: free-models-per-day" } } }]);
    const config = chainConfig({ a: provider(a.baseUrl, { daily_reset_tz: "America/Los_Angeles" }) });
    const first = await call({ config });
    expect(first.status).toBe(429);
    const second = await call({ config });
    expect(second.status).toBe(429);
    expect(await a.calls()).toHaveLength(1);
    const report = (await quota(config)).a!;
    expect(report).toMatchObject({ cooldown_reason: "quota_exceeded", cooldown_until: report.next_reset });
    // Computed here a moment after the edge computed it: a second boundary may fall in between.
    const expected = Math.ceil((Date.parse(report.next_reset) - Date.now()) / 1000);
    const retryAfter = Number(second.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(expected);
    expect(retryAfter).toBeLessThanOrEqual(expected + 1);
  });

  it.each([
    ["401", { type: "json", status: 401, body: { error: { message: "Invalid API Key", code: "invalid_api_key" } } }],
    ["402", { type: "json", status: 402, body: { error: { message: "Insufficient credits" } } }],
    ["insufficient_quota", { type: "json", status: 429, body: { error: { message: "You exceeded your current quota", code: "insufficient_quota" } } }],
  ] as const)("a dead key (%s) is not hammered", async (_name, step) => {
    const a = await scenario([step]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { auth_error_cooldown_ms: 600_000 }), b: provider(b.baseUrl) });
    const before = Date.now();
    for (let i = 0; i < 3; i++) await call({ config });
    expect(await a.calls()).toHaveLength(1);
    const report = (await quota(config)).a!;
    expect(report.cooldown_reason).toBe("auth_error");
    expect(Date.parse(report.cooldown_until!)).toBeGreaterThanOrEqual(before + 600_000);
  });

  it("x-ratelimit-remaining-requests: 0 on a success stops calls until its reset", async () => {
    const a = await scenario([{ type: "json", headers: { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2m30s" } }]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) });
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("a");
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("b");
    expect((await quota(config)).a!.cooldown_reason).toBe("remaining_requests_0");
  });
});

describe("token budgets", () => {
  it("records usage after the answer and skips a provider over its tokens per minute", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { tokens_per_minute: 10 }), b: provider(b.baseUrl) });
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("a"); // 10 tokens
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("b");
    expect(skipped("a")[0]).toMatchObject({ reason: "tokens" });
    expect((await quota(config)).a!.tokens_today).toBe(10);
  });

  it("records a stream's usage", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { tokens_per_day: 1000 }) });
    const res = await call({ config, body: chat({ stream: true }) });
    await res.text();
    await settled(res); // the stream's end reports its tokens through waitUntil
    expect((await quota(config)).a!.tokens_today).toBe(10);
  });
});

describe("failing open", () => {
  it("calls the provider and logs it when the tracker cannot be reached", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_minute: 1 }) });
    const broken = { get: () => { throw new Error("tracker unreachable"); }, idFromName: () => ({}) };
    const res = await call({ config, env: { QUOTA: broken } });
    expect(res.status).toBe(200);
    expect(await a.calls()).toHaveLength(1);
    expect(logs.events().find((e) => e.event === "quota_unavailable")).toMatchObject({ provider: "a", message: "tracker unreachable" });
  });

  it("calls the provider when the tracker does not answer within a second", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_minute: 1 }) });
    const silent = { get: () => ({ admit: () => new Promise(() => {}) }), idFromName: () => ({}) };
    const res = await call({ config, env: { QUOTA: silent } });
    expect(res.status).toBe(200);
    expect(await a.calls()).toHaveLength(1);
    expect(logs.events().find((e) => e.event === "quota_unavailable")?.message).toMatch(/no answer within 1000 ms/);
  });
});

describe("quota_unavailable lines", () => {
  it("carry the request_id of the request whose tracker call failed, at admit and after the answer", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { tokens_per_day: 1000 }) });
    // The line may be written with console.log (the operation log) or console.error: read both.
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const unreachable = { get: () => { throw new Error("tracker unreachable"); }, idFromName: () => ({}) };
    // Admits, then fails the token report sent after the answer (through waitUntil).
    const failsLater = {
      get: () => ({ admit: async () => ({ admitted: true }), settle: async () => { throw new Error("tracker lost"); } }),
      idFromName: () => ({}),
    };
    try {
      expect((await call({ config, env: { QUOTA: unreachable }, headers: { "x-request-id": "quota-open-admit" } })).status).toBe(200);
      expect((await call({ config, env: { QUOTA: failsLater }, headers: { "x-request-id": "quota-open-report" } })).status).toBe(200);
      const lines = [...logs.events(), ...errors.mock.calls.flatMap(([line]) => {
        try {
          return [JSON.parse(String(line)) as { event?: string; request_id?: string; message?: string }];
        } catch {
          return [];
        }
      })].filter((line) => line.event === "quota_unavailable");
      expect(lines.map((line) => line.message)).toEqual(expect.arrayContaining(["tracker unreachable", expect.stringContaining("tracker lost")]));
      expect(lines.find((line) => line.message === "tracker unreachable")?.request_id).toBe("quota-open-admit");
      expect(lines.find((line) => line.message?.includes("tracker lost"))?.request_id).toBe("quota-open-report");
    } finally {
      errors.mockRestore();
    }
  });
});

describe("storage", () => {
  it("counts survive the tracker being evicted", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_day: 100 }) });
    for (let i = 0; i < 3; i++) await call({ config });
    const id = env.QUOTA.idFromName(trackerName("a", { ...provider(a.baseUrl), requests_per_day: 100 } as ProviderConfig));
    await evictDurableObject(env.QUOTA.get(id));
    expect((await quota(config)).a).toMatchObject({ requests_today: 3, requests_last_minute: 3 });
  });
});

describe("GET /v1/quota", () => {
  it("needs an admin key: not a client key (403 naming ADMIN_API_KEYS), not none (401)", async () => {
    const { config } = { config: chainConfig({ a: provider("http://127.0.0.1:9/v1") }) };
    for (const headers of [{ authorization: "" }, { authorization: "Bearer sk-wrong" }]) {
      const res = await call({ config, method: "GET", path: "/v1/quota", headers });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    }
    const client = await call({ config, method: "GET", path: "/v1/quota", headers: { authorization: "Bearer sk-test-client-1" } });
    expect(client.status).toBe(403);
    expect(await client.json()).toEqual({
      error: { message: "This endpoint needs an admin key (ADMIN_API_KEYS); the key sent is a client key", type: "permission_error", param: null, code: "admin_key_required" },
    });
    const res = await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN, env: { ADMIN_API_KEYS: "" } });
    expect(res.status).toBe(500);
  });

  it("says null, not 0, for what it does not count: a provider without limits that served requests", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl, { requests_per_day: 10 }) });
    expect((await call({ config })).status).toBe(200);
    expect(await a.calls()).toHaveLength(1);
    const { providers } = (await (await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN })).json()) as {
      providers: Record<string, Record<string, unknown>>;
    };
    expect(providers.a).toMatchObject({ requests_today: null, requests_last_minute: null, tokens_today: null, tokens_last_minute: null, usd_today: null, usd_this_month: null });
    // Requests under a request limit are counted (0 here: b was not called); its tokens and USD are not.
    expect(providers.b).toMatchObject({ requests_today: 0, requests_per_day: 10, tokens_today: null, usd_today: null });
  });

  it("reports counts, limits, cool-down and next reset per provider", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_day: 50, requests_per_minute: 5, tokens_per_day: 5000 }) });
    await call({ config });
    const res = await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN });
    const body = (await res.json()) as { object: string; providers: Record<string, Record<string, unknown>> };
    expect(body.object).toBe("quota");
    expect(body.providers.a).toMatchObject({
      model: "upstream-model",
      requests_today: 1,
      requests_per_day: 50,
      requests_last_minute: 1,
      requests_per_minute: 5,
      tokens_per_day: 5000,
      cooldown_until: null,
      next_reset: new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1)).toISOString(),
    });
  });
});
