// Retries on the same provider, the short retry-after wait, the request deadline and the attempt cap.
import { describe, expect, it } from "vitest";
import { call, chainConfig, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";
import type { Step } from "../support/fake-provider-protocol.ts";

const logs = checkLogInvariant();
const ADMIN = { authorization: "Bearer sk-test-admin" };
const error500: Step = { type: "json", status: 500, body: { error: { message: "internal" } } };
const retries = () => logs.events().filter((e) => e.event === "infer_retry");

describe("retries on the same provider", () => {
  it.each([
    ["a 500", error500],
    ["a 502", { type: "raw", status: 502, body: "<html>bad gateway</html>" }],
    ["a 503", { type: "json", status: 503, body: { error: { message: "overloaded" } } }],
    ["a reset connection", { type: "reset" }],
  ] as Array<[string, Step]>)("retries %s once, then answers from the same provider", async (_name, step) => {
    const a = await scenario({ steps: [step], after: "success" });
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { retry_backoff_ms: 20 }), b: provider(b.baseUrl) });
    const res = await call({ config });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("a");
    expect(res.headers.get("x-inferrouter-attempts")).toBe("2");
    expect(await b.calls()).toHaveLength(0);
    const [retry] = retries();
    expect(retry).toMatchObject({ provider: "a", attempts: 1 });
    // Jittered around the backoff: 0.5x to 1.5x of 20 ms.
    expect(retry!.wait_ms).toBeGreaterThanOrEqual(10);
    expect(retry!.wait_ms).toBeLessThanOrEqual(30);
  });

  it("backs off exponentially through `retries`, then fails over", async () => {
    const a = await scenario([error500]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { retries: 3, retry_backoff_ms: 40, breaker_failures: 10 }), b: provider(b.baseUrl) });
    const res = await call({ config });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(res.headers.get("x-inferrouter-attempts")).toBe("5");
    expect(await a.calls()).toHaveLength(4);
    const waits = retries().map((e) => e.wait_ms!);
    expect(waits).toHaveLength(3);
    [40, 80, 160].forEach((base, i) => {
      expect(waits[i]).toBeGreaterThanOrEqual(base / 2);
      expect(waits[i]).toBeLessThanOrEqual(base * 1.5);
    });
    expect(logs.events().find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "a", attempts: 4 });
  });

  it("believes a 503's retry-after: waits at least that long, and not at all past max_retry_wait_ms", async () => {
    const soon = await scenario({ steps: [{ type: "json", status: 503, headers: { "retry-after-ms": "120" }, body: { error: { message: "busy" } } }], after: "success" });
    const res = await call({ config: chainConfig({ a: provider(soon.baseUrl, { retry_backoff_ms: 1 }) }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("a");
    expect(retries()[0]!.wait_ms).toBeGreaterThanOrEqual(120);
    const later = await scenario([{ type: "json", status: 503, headers: { "retry-after": "60" }, body: { error: { message: "maintenance" } } }]);
    const b = await scenario();
    await call({ config: chainConfig({ a: provider(later.baseUrl), b: provider(b.baseUrl) }) });
    expect(await later.calls()).toHaveLength(1);
  });

  it("never retries a timeout on the same provider", async () => {
    const a = await scenario([{ type: "hang" }]);
    const b = await scenario();
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl, { timeout_ms: 300, retries: 3 }), b: provider(b.baseUrl) }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(await a.calls()).toHaveLength(1);
    expect(retries()).toHaveLength(0);
  });

  it("never retries an error that is not an outage (400, 401, 501)", async () => {
    for (const status of [400, 401, 501]) {
      const a = await scenario([{ type: "json", status, body: { error: { message: "no" } } }]);
      const b = await scenario();
      await call({ config: chainConfig({ a: provider(a.baseUrl, { retries: 3 }), b: provider(b.baseUrl) }) });
      expect(await a.calls()).toHaveLength(1);
    }
    expect(retries()).toHaveLength(0);
  });

  it("does not retry a half-open circuit's trial", async () => {
    const a = await scenario([error500]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { retries: 1, retry_backoff_ms: 1, breaker_failures: 2, breaker_cooldown_ms: 200 }), b: provider(b.baseUrl) });
    await call({ config }); // 500, retried, 500: the circuit opens
    expect(await a.calls()).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await call({ config }); // the trial: one call
    expect(await a.calls()).toHaveLength(3);
  });
});

describe("a short retry-after", () => {
  it("is waited out and retried once on the same provider, with no cool-down", async () => {
    const limited: Step = { type: "json", status: 429, headers: { "retry-after-ms": "150" }, body: { error: { message: "slow down" } } };
    const a = await scenario({ steps: [limited], after: "success" });
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_minute: 100 }), b: provider(b.baseUrl) });
    const res = await call({ config });
    expect(res.headers.get("x-inferrouter-provider")).toBe("a");
    expect(res.headers.get("x-inferrouter-attempts")).toBe("2");
    expect(retries()[0]).toMatchObject({ provider: "a", category: "RateLimit", wait_ms: 150 });
    const quota = (await (await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN })).json()) as {
      providers: Record<string, { cooldown_until: string | null }>;
    };
    expect(quota.providers.a!.cooldown_until).toBeNull();
  });

  it("is waited out once only: a second 429 fails over and cools down", async () => {
    const a = await scenario([{ type: "json", status: 429, headers: { "retry-after": "1" }, body: { error: { message: "slow down" } } }]);
    const b = await scenario();
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(await a.calls()).toHaveLength(2);
    expect(logs.events().find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "a", category: "RateLimit" });
  });

  it("longer than max_retry_wait_ms (or absent) fails over at once", async () => {
    for (const headers of [{ "retry-after": "4" }, {}] as Array<Record<string, string>>) {
      const a = await scenario([{ type: "json", status: 429, headers, body: { error: { message: "slow down" } } }]);
      const b = await scenario();
      const res = await call({ config: chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }) });
      expect(res.headers.get("x-inferrouter-provider")).toBe("b");
      expect(await a.calls()).toHaveLength(1);
    }
    expect(retries()).toHaveLength(0);
  });
});

describe("request_timeout_ms", () => {
  it("stops the walk with 504 request_timeout, listing the attempts so far", async () => {
    const a = await scenario([{ type: "hang" }]);
    const b = await scenario([{ type: "hang" }]);
    const c = await scenario();
    const config = chainConfig(
      { a: provider(a.baseUrl, { timeout_ms: 300 }), b: provider(b.baseUrl, { timeout_ms: 5_000 }), c: provider(c.baseUrl) },
      { request_timeout_ms: 700 },
    );
    const res = await call({ config });
    expect(res.status).toBe(504);
    expect(res.headers.get("retry-after")).toBeNull();
    const body = (await res.json()) as { error: { code: string; type: string; message: string; param: null } };
    expect(body.error).toMatchObject({ code: "request_timeout", type: "timeout_error", param: null });
    expect(body.error.message).toContain("a: Timeout (no response); b: Timeout (no response)");
    expect(await c.calls()).toHaveLength(0);
    // b's call was cut to the time left, not its own 5 s.
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ status: 504, attempts: 2, category: "Timeout" });
  });

  it("does not mistake a provider's own 504 for the deadline: it fails over", async () => {
    const a = await scenario([{ type: "json", status: 504, body: { error: { message: "gateway timeout" } } }]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { timeout_ms: 30_000 }), b: provider(b.baseUrl) }, { request_timeout_ms: 10_000 });
    const res = await call({ config });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(logs.events().find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "a", category: "Timeout", status: 504 });
  });

  it("also bounds a stream up to the moment it commits", async () => {
    const a = await scenario([{ type: "sse", events: [], end: "hang" }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl, { timeout_ms: 5_000 }) }, { request_timeout_ms: 400 }), body: chat({ stream: true }) });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("request_timeout");
  });
});

describe("max_attempts", () => {
  it("caps upstream calls per request, retries included", async () => {
    const ids = ["a", "b", "c"];
    const scenarios = await Promise.all(ids.map(() => scenario([error500])));
    const providers = Object.fromEntries(ids.map((id, i) => [id, provider(scenarios[i]!.baseUrl, { retry_backoff_ms: 1 })]));
    const res = await call({ config: chainConfig(providers, { max_attempts: 3 }) });
    expect(res.status).toBe(503);
    expect(res.headers.get("x-inferrouter-attempts")).toBe("3");
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("max_attempts_reached");
    expect(body.error.message).toContain("max_attempts (3)");
    // a: a call and its retry; b: one call (its retry would be the fourth); c: never.
    expect((await Promise.all(scenarios.map((s) => s.calls()))).map((calls) => calls.length)).toEqual([2, 1, 0]);
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ attempts: 3 });
  });
});
