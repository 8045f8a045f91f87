// Leases, reservations, budgets and a failing tracker, end to end: the Worker in workerd with real
// QuotaTracker Durable Objects and a scripted provider (docs/quotas-at-scale.md).
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { trackerName } from "../../edge/quota/client.ts";
import { LEASE_MS } from "../../edge/quota/window.ts";
import type { ProviderConfig } from "../../shared/config.ts";
import { completion } from "../support/fake-provider-protocol.ts";
import { call, chainConfig, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const ADMIN = { authorization: "Bearer sk-test-admin" };
const as = (key: string) => ({ authorization: `Bearer ${key}` });

async function report(config: unknown) {
  const res = await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN });
  expect(res.status).toBe(200);
  return (await res.json()) as { providers: Record<string, Record<string, unknown>>; clients: Record<string, Record<string, unknown>> };
}

const terminal = (requestId: string) => logs.events().find((e) => e.request_id === requestId && e.event === "infer_completed");
const stubOf = (id: string, baseUrl: string, extra: Record<string, unknown>) =>
  env.QUOTA.get(env.QUOTA.idFromName(trackerName(id, { ...provider(baseUrl), ...extra } as ProviderConfig)));

/** An answer with the given usage: what the provider really used. */
const answering = (prompt: number, completionTokens: number) => ({ type: "json" as const, body: completion("upstream-model", "hi", { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens }) });

describe("leases", () => {
  it("admit later requests without a tracker call: tracker_waits 1 for the first, 0 after; the counts stay exact", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_minute: 100 }) });
    for (let i = 0; i < 4; i++) expect((await call({ config, headers: { "x-request-id": `lease-${i}` } })).status).toBe(200);
    expect(terminal("lease-0")).toMatchObject({ tracker_waits: 1, tracker_ms: expect.any(Number) });
    for (let i = 1; i < 4; i++) expect(terminal(`lease-${i}`)).toMatchObject({ tracker_waits: 0, tracker_ms: 0 });
    expect(await a.calls()).toHaveLength(4);
    // /v1/quota gives this isolate's unused leases back first: what it shows is what was used.
    expect((await report(config)).providers.a).toMatchObject({ requests_today: 4, requests_last_minute: 4, requests_leased: 0 });
  });

  it("a provider without limits needs no tracker: tracker_waits 0", async () => {
    const a = await scenario();
    await call({ config: chainConfig({ a: provider(a.baseUrl) }), headers: { "x-request-id": "no-limits" } });
    expect(terminal("no-limits")).toMatchObject({ tracker_waits: 0, tracker_ms: 0 });
  });

  it(`a cool-down set by another isolate reaches this one within a lease (${LEASE_MS} ms)`, async () => {
    const a = await scenario();
    const b = await scenario();
    const limits = { requests_per_minute: 100 };
    const config = chainConfig({ a: provider(a.baseUrl, limits), b: provider(b.baseUrl) });
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("a"); // this isolate now holds a lease
    const setAt = Date.now();
    await stubOf("a", a.baseUrl, limits).coolDown(setAt + 60_000, "rate_limit"); // as another isolate would
    let servedBy: string | null = "a";
    while (servedBy === "a") {
      expect(Date.now() - setAt).toBeLessThan(LEASE_MS + 1_000);
      servedBy = (await call({ config })).headers.get("x-inferrouter-provider");
    }
    expect(servedBy).toBe("b");
    expect(logs.events().find((e) => e.event === "infer_skipped" && e.provider === "a")).toMatchObject({ reason: "cooldown" });
  });
});

describe("token reservations", () => {
  it("hold a small budget under 30 concurrent requests: reserved before the call, settled to the real usage", async () => {
    const a = await scenario([answering(3, 7)]); // 10 tokens each, under the 23 each reserves
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { tokens_per_day: 100 }), b: provider(b.baseUrl) });
    // "Say hello": 3 estimated prompt tokens + max_tokens 20 = 23 reserved: 4 fit in 100 at once.
    const responses = await Promise.all(Array.from({ length: 30 }, () => call({ config, body: chat({ max_tokens: 20 }) })));
    expect(responses.every((res) => res.status === 200)).toBe(true);
    const calls = (await a.calls()).length;
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThanOrEqual(4);
    expect((await report(config)).providers.a).toMatchObject({ tokens_today: 10 * calls });
    expect(logs.events().filter((e) => e.event === "infer_skipped" && e.provider === "a").every((e) => e.reason === "tokens")).toBe(true);
    // Settled, the budget has room again: the next ones fit until the real usage reaches it.
    let more = 0;
    while ((await call({ config, body: chat({ max_tokens: 20 }) })).headers.get("x-inferrouter-provider") === "a") more++;
    expect(10 * (calls + more)).toBeLessThanOrEqual(100);
    expect(10 * (calls + more)).toBeGreaterThan(100 - 23); // it stops only when the next reservation no longer fits
  });

  it("pass the budget by at most the in-flight requests' estimate error when answers use more than they reserved", async () => {
    const a = await scenario([answering(3, 47)]); // 50 tokens each: a provider that ignores max_tokens, 27 over
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { tokens_per_day: 100 }), b: provider(b.baseUrl) });
    await Promise.all(Array.from({ length: 30 }, () => call({ config, body: chat({ max_tokens: 20 }) })));
    const calls = (await a.calls()).length;
    const used = (await report(config)).providers.a!.tokens_today as number;
    expect(used).toBe(50 * calls);
    expect(used).toBeLessThanOrEqual(100 + calls * (50 - 23));
    expect(calls).toBeLessThanOrEqual(4);
  });

  it("give back a failed attempt's reservation: the budget counts only answers", async () => {
    const a = await scenario([{ type: "json", status: 503, body: { error: { message: "down" } } }]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { tokens_per_day: 1000, retries: 0 }), b: provider(b.baseUrl) });
    expect((await call({ config, body: chat({ max_tokens: 20 }) })).headers.get("x-inferrouter-provider")).toBe("b");
    expect((await report(config)).providers.a).toMatchObject({ requests_today: 1, tokens_today: 0 });
  });

  it("settle a stream to its usage", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { tokens_per_minute: 1000 }) });
    const res = await call({ config, body: chat({ stream: true, max_tokens: 100 }) });
    await res.text();
    expect((await report(config)).providers.a).toMatchObject({ tokens_today: 10, tokens_last_minute: 10 });
  });
});

const PRICE = { input_per_mtok: 1000, output_per_mtok: 1000 }; // $0.001 a token

describe("USD budgets", () => {
  it("skip a provider as budget once spent, and the route falls over; /v1/quota shows what is left", async () => {
    const a = await scenario(); // 10 tokens an answer: $0.01
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { price: PRICE, budget_usd_per_day: 0.05 }), b: provider(b.baseUrl) });
    const servedBy: Array<string | null> = [];
    for (let i = 0; i < 5; i++) servedBy.push((await call({ config, body: chat({ max_tokens: 20 }) })).headers.get("x-inferrouter-provider"));
    // Each reserves $0.023 and settles to $0.01: the 4th would pass $0.05 while reserved.
    expect(servedBy).toEqual(["a", "a", "a", "b", "b"]);
    const skip = logs.events().find((e) => e.event === "infer_skipped" && e.provider === "a");
    expect(skip).toMatchObject({ reason: "budget" });
    const tomorrow = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1)).toISOString();
    expect(skip!.retry_at).toBe(tomorrow);
    const a_ = (await report(config)).providers.a!;
    expect(a_.usd_today as number).toBeCloseTo(0.03, 9);
    expect(a_.budget_usd_remaining_today as number).toBeCloseTo(0.02, 9);
    expect(a_).toMatchObject({ budget_usd_per_day: 0.05, budget_usd_per_month: null });
  });

  it("answer a client over its budget 429 budget_exceeded with retry-after at the reset", async () => {
    const a = await scenario();
    const config = { routes: { default: ["a"] }, providers: { a: provider(a.baseUrl, { price: PRICE }) }, clients: { app: { key_secret: "APP_KEY", budget_usd_per_day: 0.025 } } };
    const env = { APP_KEY: "sk-app-budget" };
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call({ config, env, headers: as("sk-app-budget"), body: chat({ max_tokens: 5 }) })).status);
    // $0.008 reserved each (3 + 5 tokens), $0.01 real: 0.01 + 0.01 + 0.008 > 0.025.
    expect(statuses).toEqual([200, 200, 429]);
    const denied = await call({ config, env, headers: as("sk-app-budget"), body: chat({ max_tokens: 5 }) });
    expect(denied.status).toBe(429);
    const error = ((await denied.json()) as { error: Record<string, unknown> }).error;
    expect(error).toMatchObject({ code: "budget_exceeded", type: "rate_limit_error" });
    const retryAfter = Number(denied.headers.get("retry-after"));
    const midnight = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1);
    expect(Math.abs(Date.now() + retryAfter * 1000 - midnight)).toBeLessThan(5_000);
    expect(await a.calls()).toHaveLength(2);
    expect((await report(config)).clients.app).toMatchObject({ budget_usd_per_day: 0.025, usd_today: expect.closeTo(0.02, 9) });
    // The history tells a client's own budget from a provider's QuotaExceeded.
    expect(logs.events().filter((e) => e.event === "infer_failed").map((e) => e.reason)).toEqual(["budget_exceeded", "budget_exceeded"]);
    const usage = (await (await call({ config, env, method: "GET", path: "/v1/usage?group_by=client", headers: { authorization: "Bearer sk-test-admin" } })).json()) as { groups: Record<string, { failures: Record<string, number> }> };
    expect(usage.groups.app!.failures).toEqual({ budget_exceeded: 2 });
  });

  // With a request limit too the tracker leases admissions; a USD budget must lease none, or the
  // isolate draws spares while the real costs settle, past the budget (ef3295e). The answers cost
  // more than they reserve (a provider that ignores max_tokens), so a drawn spare would show.
  it("stop sequential requests at a provider's budget under a request limit: skipped as budget, the next provider answers", async () => {
    const a = await scenario([answering(3, 47)]); // $0.05 an answer, $0.008 reserved (3 + 5 tokens)
    const b = await scenario();
    const BUDGET = 0.15; // three answers
    const config = chainConfig({ a: provider(a.baseUrl, { price: PRICE, budget_usd_per_day: BUDGET, requests_per_minute: 100 }), b: provider(b.baseUrl) });
    const servedBy: Array<string | null> = [];
    for (let i = 0; i < 6; i++) servedBy.push((await call({ config, body: chat({ max_tokens: 5 }) })).headers.get("x-inferrouter-provider"));
    expect(servedBy).toEqual(["a", "a", "a", "b", "b", "b"]);
    expect(logs.events().filter((e) => e.event === "infer_skipped" && e.provider === "a").every((e) => e.reason === "budget")).toBe(true);
    const spent = (await report(config)).providers.a!.usd_today as number;
    expect(spent).toBeCloseTo(0.15, 9);
    expect(spent).toBeLessThanOrEqual(BUDGET + 0.008); // at most one in-flight estimate over
  });

  it("stop sequential requests at a client's budget under a request limit: 429 budget_exceeded, retry-after at the reset", async () => {
    const a = await scenario([answering(3, 47)]); // $0.05 an answer, $0.008 reserved
    const BUDGET = 0.15; // three answers
    const config = {
      routes: { default: ["a"] },
      providers: { a: provider(a.baseUrl, { price: PRICE, requests_per_minute: 100 }) },
      clients: { seq: { key_secret: "SEQ_KEY", budget_usd_per_day: BUDGET, requests_per_minute: 100 } },
    };
    const env = { SEQ_KEY: "sk-seq-budget" };
    const responses: Response[] = [];
    for (let i = 0; i < 5; i++) responses.push(await call({ config, env, headers: as("sk-seq-budget"), body: chat({ max_tokens: 5 }) }));
    expect(responses.map((res) => res.status)).toEqual([200, 200, 200, 429, 429]);
    const denied = responses.at(-1)!;
    expect(((await denied.json()) as { error: Record<string, unknown> }).error).toMatchObject({ code: "budget_exceeded" });
    const midnight = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1);
    expect(Math.abs(Date.now() + Number(denied.headers.get("retry-after")) * 1000 - midnight)).toBeLessThan(5_000);
    expect(await a.calls()).toHaveLength(3);
    const spent = (await report(config)).clients.seq!.usd_today as number;
    expect(spent).toBeCloseTo(0.15, 9);
    expect(spent).toBeLessThanOrEqual(BUDGET + 0.008);
  });

  it("is refused by check-config without a price", async () => {
    const res = await call({ config: chainConfig({ a: provider("http://127.0.0.1:9/v1", { budget_usd_per_day: 1 }) }), headers: { authorization: "Bearer sk-test-admin" } }); // the admin key sees why
    expect(res.status).toBe(500);
    expect(await res.text()).toContain("budget_usd_per_day needs the provider's price");
  });
});

describe("when the tracker fails", () => {
  const throwing = { get: () => ({ admit: async () => { throw new Error("tracker exploded"); } }), idFromName: () => ({}) };
  const silent = { get: () => ({ admit: () => new Promise(() => {}) }), idFromName: () => ({}) };

  it('on_tracker_error = "deny" skips a provider whose tracker throws: no call, 503, logged quota_unavailable', async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_minute: 10, on_tracker_error: "deny" }) });
    const res = await call({ config, env: { QUOTA: throwing } });
    expect(res.status).toBe(503);
    expect(await a.calls()).toHaveLength(0);
    expect(logs.events().find((e) => e.event === "quota_unavailable")).toMatchObject({ provider: "a", message: "tracker exploded" });
    expect(logs.events().find((e) => e.event === "infer_skipped")).toMatchObject({ provider: "a", reason: "quota_unavailable" });
  });

  it('on_tracker_error = "deny" set globally skips a provider whose tracker times out, and falls over to one that admits', async () => {
    const a = await scenario();
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_minute: 10 }), b: provider(b.baseUrl, { on_tracker_error: "admit", requests_per_minute: 10 }) }, { on_tracker_error: "deny" });
    const res = await call({ config, env: { QUOTA: silent } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(await a.calls()).toHaveLength(0);
    expect(logs.events().filter((e) => e.event === "quota_unavailable").map((e) => e.message)).toEqual([expect.stringMatching(/no answer within 1000 ms/), expect.stringMatching(/no answer within 1000 ms/)]);
  });

  it('a client tracker that fails with on_tracker_error = "deny" answers 503 quota_unavailable', async () => {
    const a = await scenario();
    const config = { routes: { default: ["a"] }, providers: { a: provider(a.baseUrl) }, clients: { denied_app: { key_secret: "APP_KEY", requests_per_day: 5 } }, on_tracker_error: "deny" };
    const res = await call({ config, env: { APP_KEY: "sk-app-deny", QUOTA: throwing }, headers: as("sk-app-deny") });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("quota_unavailable");
    expect(await a.calls()).toHaveLength(0);
  });

  it("a tracker reset mid-request loses nothing: the answer is given, its admission and its tokens stay counted", async () => {
    const a = await scenario([{ ...answering(3, 7), delay_ms: 300 }]);
    const limits = { requests_per_day: 100, tokens_per_day: 1000 };
    const config = chainConfig({ a: provider(a.baseUrl, limits) });
    const pending = call({ config, body: chat({ max_tokens: 20 }) });
    await a.waitForCalls(1);
    await evictDurableObject(stubOf("a", a.baseUrl, limits)); // the tracker restarts while the provider answers
    expect((await pending).status).toBe(200);
    expect((await report(config)).providers.a).toMatchObject({ requests_today: 1, tokens_today: 10 });
    expect(logs.events().some((e) => e.event === "quota_unavailable")).toBe(false);
  });
});

