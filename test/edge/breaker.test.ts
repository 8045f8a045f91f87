// The circuit breaker end to end: a provider that is down is learned across requests, skipped
// without a call while its circuit is open, given exactly one trial when the cool-down ends, and
// used again once it answers. Both homes of a circuit are covered: the tracker (a provider with
// limits) and the isolate (a provider without).
import { describe, expect, it } from "vitest";
import { call, chainConfig, chat, provider, scenario, settled } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";
import type { Step } from "../support/fake-provider-protocol.ts";

const logs = checkLogInvariant();
const ADMIN = { authorization: "Bearer sk-test-admin" };
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const homes = [
  ["in its tracker (a provider with limits)", { requests_per_day: 10_000 }],
  ["in the isolate (a provider without limits)", {}],
] as const;

async function circuitOf(config: unknown, providerId: string) {
  const res = await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN });
  const body = (await res.json()) as { providers: Record<string, { circuit: { state: string; failures: number; open_until: string | null } }> };
  return body.providers[providerId]!.circuit;
}

describe.each(homes)("a circuit %s", (_home, limits) => {
  it("stops waiting on a hanging provider after breaker_failures timeouts, then sends exactly one trial", async () => {
    const hang = await scenario([{ type: "hang" }]);
    const healthy = await scenario();
    const config = chainConfig({
      hang: provider(hang.baseUrl, { timeout_ms: 1_000, breaker_cooldown_ms: 1_500, ...limits }),
      next: provider(healthy.baseUrl),
    });
    const served: string[] = [];
    for (let i = 0; i < 6; i++) served.push((await call({ config })).headers.get("x-inferrouter-provider")!);
    expect(served).toEqual(Array(6).fill("next"));
    // Only the first two (breaker_failures, default 2) waited for the timeout; the rest never called it.
    expect(await hang.calls()).toHaveLength(2);
    const skips = logs.events().filter((e) => e.event === "infer_skipped" && e.provider === "hang");
    expect(skips).toHaveLength(4);
    expect(skips.every((e) => e.reason === "circuit_open" && typeof e.retry_at === "string")).toBe(true);
    expect(await circuitOf(config, "hang")).toMatchObject({ state: "open", failures: 2 });

    await wait(1_600);
    // Half-open: one trial goes to the provider (and times out); the requests around it skip it.
    const trial = call({ config });
    await wait(100);
    const during = await Promise.all(Array.from({ length: 4 }, () => call({ config })));
    expect(during.map((res) => res.headers.get("x-inferrouter-provider"))).toEqual(Array(4).fill("next"));
    expect((await trial).headers.get("x-inferrouter-provider")).toBe("next");
    expect(await hang.calls()).toHaveLength(3);
    // A timed-out trial doubles the cool-down: 1.5 s, then 3 s.
    const circuit = await circuitOf(config, "hang");
    expect(circuit.state).toBe("open");
    expect(Date.parse(circuit.open_until!) - Date.now()).toBeGreaterThan(1_600);
  });

  it("concurrent requests in half-open send one trial only", async () => {
    const down = await scenario([{ type: "json", status: 500, body: { error: { message: "down" } } }]);
    const healthy = await scenario();
    const config = chainConfig({
      down: provider(down.baseUrl, { retries: 0, breaker_cooldown_ms: 300, ...limits }),
      next: provider(healthy.baseUrl),
    });
    for (let i = 0; i < 2; i++) await call({ config });
    expect(await down.calls()).toHaveLength(2);
    await wait(350);
    const responses = await Promise.all(Array.from({ length: 20 }, () => call({ config })));
    expect(responses.every((res) => res.status === 200)).toBe(true);
    expect(await down.calls()).toHaveLength(3);
  });

  it("uses a provider that answered 503 again within one cool-down of its recovery", async () => {
    const fail: Step = { type: "json", status: 503, body: { error: { message: "overloaded" } } };
    const flaky = await scenario({ steps: [fail, fail, fail], after: "success" });
    const healthy = await scenario();
    const config = chainConfig({
      flaky: provider(flaky.baseUrl, { retries: 0, breaker_cooldown_ms: 400, ...limits }),
      next: provider(healthy.baseUrl),
    });
    const servedBy = async () => (await call({ config })).headers.get("x-inferrouter-provider");
    expect([await servedBy(), await servedBy(), await servedBy()]).toEqual(["next", "next", "next"]); // 2 failures, then skipped
    await wait(450);
    expect(await servedBy()).toBe("next"); // the trial meets the third 503: open again, for the same 400 ms
    expect(await flaky.calls()).toHaveLength(3);
    await wait(450);
    expect(await servedBy()).toBe("flaky"); // recovered: the trial succeeds and the circuit closes
    expect(await servedBy()).toBe("flaky");
    expect(await circuitOf(config, "flaky")).toEqual({ state: "closed", failures: 0, open_until: null });
  });
});

describe("a circuit in its tracker", () => {
  it("serves again at once after a successful trial: requests that met the trial in flight are not held for its lease", async () => {
    const fail: Step = { type: "json", status: 503, body: { error: { message: "overloaded" } } };
    const flaky = await scenario({ steps: [fail, fail, { type: "json", delay_ms: 400 }], after: "success" });
    const healthy = await scenario();
    const config = chainConfig({
      flaky: provider(flaky.baseUrl, { retries: 0, breaker_cooldown_ms: 300, timeout_ms: 10_000, requests_per_day: 1000 }),
      next: provider(healthy.baseUrl),
    });
    await call({ config });
    await call({ config });
    await wait(350);
    const trial = call({ config });
    await wait(100);
    const during = await call({ config });
    expect(during.headers.get("x-inferrouter-provider")).toBe("next");
    expect((await trial).headers.get("x-inferrouter-provider")).toBe("flaky");
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("flaky");
    // A request that meets a trial in flight is told to come back within a second, not at the lease's end.
    const skip = logs.events().find((e) => e.event === "infer_skipped" && e.provider === "flaky" && e.request_id === during.headers.get("x-request-id"));
    expect(Date.parse(skip!.retry_at!) - Date.parse(skip!.ts)).toBeLessThanOrEqual(1_000);
  });

  it.each(homes)("closes a circuit %s when its trial is answered with an error that is not an outage (a 400: the provider is up)", async (_home, limits) => {
    const fail: Step = { type: "json", status: 503, body: { error: { message: "overloaded" } } };
    const refused: Step = { type: "json", status: 400, body: { error: { message: "bad request" } } };
    const flaky = await scenario({ steps: [fail, fail, refused], after: "success" });
    const healthy = await scenario();
    const config = chainConfig({ flaky: provider(flaky.baseUrl, { retries: 0, breaker_cooldown_ms: 300, timeout_ms: 10_000, ...limits }), next: provider(healthy.baseUrl) });
    await call({ config });
    await call({ config });
    await wait(350);
    expect((await call({ config })).status).toBe(400);
    // Not skipped as circuit_open until the trial's lease (its 10 s timeout) ends: the provider answered.
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("flaky");
    expect(await circuitOf(config, "flaky")).toMatchObject({ state: "closed", failures: 0 });
  });

  it("a success after a retry resets the failure count", async () => {
    const flaky = await scenario({ steps: [{ type: "json", status: 500, body: { error: { message: "blip" } } }], after: "success" });
    const config = chainConfig({ flaky: provider(flaky.baseUrl, { retry_backoff_ms: 1, requests_per_day: 1000 }) });
    const res = await call({ config });
    expect(res.headers.get("x-inferrouter-attempts")).toBe("2");
    expect(await circuitOf(config, "flaky")).toEqual({ state: "closed", failures: 0, open_until: null });
  });
});

describe("streams", () => {
  it("a provider that cuts every stream after it began opens its circuit (the commit does not reset it)", async () => {
    const cut = await scenario([{ type: "sse", content: "an answer that never ends well", cut_after: 3, end: "reset" }]);
    const config = chainConfig({ cut: provider(cut.baseUrl, { retries: 0 }) });
    for (let i = 0; i < 3; i++) await (await call({ config, body: chat({ stream: true }) })).text();
    expect(await cut.calls()).toHaveLength(2);
    expect(await circuitOf(config, "cut")).toMatchObject({ state: "open", failures: 2 });
  });

  it("a stream that ends well closes the circuit", async () => {
    const flaky = await scenario({ steps: [{ type: "json", status: 500, body: { error: { message: "blip" } } }], after: "success" });
    const config = chainConfig({ flaky: provider(flaky.baseUrl, { retries: 0, requests_per_day: 1000 }) });
    await call({ config });
    expect((await circuitOf(config, "flaky")).failures).toBe(1);
    const res = await call({ config, body: chat({ stream: true }) });
    await res.text();
    await settled(res);
    expect(await circuitOf(config, "flaky")).toEqual({ state: "closed", failures: 0, open_until: null });
  });
});

describe("a route whose every circuit is open", () => {
  it("answers 503 (never 429) with retry-after at the earliest reopening", async () => {
    const a = await scenario([{ type: "reset" }]);
    const b = await scenario([{ type: "json", status: 502, body: { error: { message: "bad gateway" } } }]);
    const config = chainConfig({
      a: provider(a.baseUrl, { retries: 0, breaker_failures: 1, breaker_cooldown_ms: 40_000 }),
      b: provider(b.baseUrl, { retries: 0, breaker_failures: 1, breaker_cooldown_ms: 20_000, requests_per_minute: 100 }),
    });
    expect((await call({ config })).status).toBe(503);
    const res = await call({ config });
    expect(res.status).toBe(503);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(19);
    expect(retryAfter).toBeLessThanOrEqual(20);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("all_providers_failed");
    expect(body.error.message).toContain("a: skipped (circuit open); b: skipped (circuit open)");
    expect(await a.calls()).toHaveLength(1);
    expect(await b.calls()).toHaveLength(1);
  });

  it("does not count answers that are not outages (a 400, a 429) towards the circuit", async () => {
    const a = await scenario([{ type: "json", status: 429, body: { error: { message: "slow" } } }]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { rate_limit_cooldown_ms: 1, breaker_failures: 1 }), b: provider(b.baseUrl) });
    await call({ config });
    expect(await circuitOf(config, "a")).toMatchObject({ state: "closed", failures: 0 });
  });
});
