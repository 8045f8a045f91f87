// Route strategies: ordered, weighted (by weight, else requests_per_day, else 1) and least_used
// (lowest share of the daily limit first, from what admit answers brought back), with local
// providers last under every one.
import { describe, expect, it } from "vitest";
import { orderProviders } from "../../edge/routing/order.ts";
import { parseRouterConfig, STRATEGIES, type RouterConfig } from "../../shared/config.ts";
import { call, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

checkLogInvariant();

/** mulberry32: a small seeded generator, so the draws are the same on every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function parsed(config: unknown): RouterConfig {
  const result = parseRouterConfig(config);
  if (!result.ok) throw new Error(result.message);
  return result.config;
}

const URL_ = "http://127.0.0.1:1/v1";
const local = (baseUrl = URL_) => provider(baseUrl, { type: "local_gguf" });

describe("weighted", () => {
  it("draws the first provider in proportion to its weight over 2,000 draws (weight, else requests_per_day, else 1)", () => {
    const config = parsed({
      routes: { w: { providers: ["local", "a", "b", "c"], strategy: "weighted" } },
      providers: { local: local(), a: provider(URL_, { weight: 6 }), b: provider(URL_, { requests_per_day: 3 }), c: provider(URL_) },
    });
    const random = seeded(42);
    const first = { a: 0, b: 0, c: 0 } as Record<string, number>;
    const second = { a: 0, b: 0, c: 0 } as Record<string, number>;
    for (let i = 0; i < 2000; i++) {
      const order = orderProviders(["local", "a", "b", "c"], config, "weighted", random);
      expect(order).toHaveLength(4);
      expect(new Set(order).size).toBe(4);
      expect(order.at(-1)).toBe("local");
      first[order[0]!]!++;
      second[order[1]!]!++;
    }
    expect(Math.abs(first.a! / 2000 - 0.6)).toBeLessThan(0.03);
    expect(Math.abs(first.b! / 2000 - 0.3)).toBeLessThan(0.03);
    expect(Math.abs(first.c! / 2000 - 0.1)).toBeLessThan(0.03);
    // Without replacement: second place is drawn from the rest by weight (a: 0.3*6/7 + 0.1*6/9, ...).
    expect(Math.abs(second.a! / 2000 - (0.3 * 6 / 7 + 0.1 * 6 / 9))).toBeLessThan(0.03);
  });

  it("sends requests to both providers of a weighted route through the Worker, and still fails over through all", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = { routes: { default: { providers: ["a", "b"], strategy: "weighted" } }, providers: { a: provider(a.baseUrl, { weight: 3 }), b: provider(b.baseUrl, { weight: 1 }) } };
    const responses = await Promise.all(Array.from({ length: 80 }, () => call({ config })));
    const served = responses.map((res) => res.headers.get("x-inferrouter-provider"));
    expect(served.filter((id) => id === "a").length).toBeGreaterThan(served.filter((id) => id === "b").length);
    expect(served.filter((id) => id === "b").length).toBeGreaterThan(0);

    const down = await scenario([{ type: "json", status: 500, body: { error: { message: "down" } } }]);
    const up = await scenario();
    const failing = { routes: { default: { providers: ["down", "up"], strategy: "weighted" } }, providers: { down: provider(down.baseUrl, { weight: 1000, retries: 0, breaker_failures: 100 }), up: provider(up.baseUrl) } };
    for (let i = 0; i < 5; i++) expect((await call({ config: failing })).headers.get("x-inferrouter-provider")).toBe("up");
  });
});

describe("least_used", () => {
  it("orders by today's share of the daily limit that admit answers brought back, lowest first", async () => {
    const a = await scenario();
    const b = await scenario();
    const c = await scenario();
    const providers = { a: provider(a.baseUrl, { requests_per_day: 10 }), b: provider(b.baseUrl, { requests_per_day: 10 }), c: provider(c.baseUrl) };
    const config = {
      routes: { only_a: ["a"], pair: { providers: ["a", "b"], strategy: "least_used" }, unlimited: { providers: ["a", "c"], strategy: "least_used" } },
      providers,
    };
    for (let i = 0; i < 5; i++) expect((await call({ config, body: chat({ model: "only_a" }) })).status).toBe(200);
    // a is at 5/10; b rises from 0/10 to 5/10 before a is worth picking again.
    for (let i = 0; i < 5; i++) expect((await call({ config, body: chat({ model: "pair" }) })).headers.get("x-inferrouter-provider")).toBe("b");
    expect(await a.calls()).toHaveLength(5);
    expect(await b.calls()).toHaveLength(5);
    // At a tie either may come first; one more call to a makes b the lower.
    await call({ config, body: chat({ model: "only_a" }) });
    expect((await call({ config, body: chat({ model: "pair" }) })).headers.get("x-inferrouter-provider")).toBe("b");
    // A provider without a daily limit counts as 0: first.
    for (let i = 0; i < 3; i++) expect((await call({ config, body: chat({ model: "unlimited" }) })).headers.get("x-inferrouter-provider")).toBe("c");
    // The order came from the admit answers alone: one tracker call per admitted provider, no more.
    const quota = (await (await call({ config, method: "GET", path: "/v1/quota", headers: { authorization: "Bearer sk-test-admin" } })).json()) as {
      providers: Record<string, { checks: number; requests_today: number }>;
    };
    expect(quota.providers.a).toMatchObject({ checks: 6, requests_today: 6 });
    expect(quota.providers.b).toMatchObject({ checks: 6, requests_today: 6 });
  });
});

describe("local providers stay last", () => {
  it.each(STRATEGIES)("under %s, orders put local_gguf providers after every cloud one", (strategy) => {
    const config = parsed({
      routes: { r: { providers: ["local", "a", "b"], strategy } },
      providers: { local: local(), a: provider(URL_, { requests_per_day: 5 }), b: provider(URL_) },
    });
    const random = seeded(7);
    for (let i = 0; i < 50; i++) expect(orderProviders(["local", "a", "b"], config, strategy, random).at(-1)).toBe("local");
  });

  it.each(STRATEGIES)("under %s, the Worker calls the local provider only after the cloud ones failed", async (strategy) => {
    const down = { type: "json", status: 503, body: { error: { message: "down" } } } as const;
    const a = await scenario([down]);
    const b = await scenario([down]);
    const last = await scenario();
    const config = {
      routes: { default: { providers: ["local", "a", "b"], strategy } },
      providers: { local: local(last.baseUrl), a: provider(a.baseUrl, { retries: 0 }), b: provider(b.baseUrl, { retries: 0 }) },
    };
    const res = await call({ config });
    expect(res.headers.get("x-inferrouter-provider")).toBe("local");
    expect(res.headers.get("x-inferrouter-attempts")).toBe("3");
    expect(await a.calls()).toHaveLength(1);
    expect(await b.calls()).toHaveLength(1);
  });
});

describe("cheapest", () => {
  const price = (input: number, output: number) => ({ price: { input_per_mtok: input, output_per_mtok: output } });
  const config = parsed({
    routes: { c: { providers: ["local", "dear", "unknown", "cheap", "free", "tie"], strategy: "cheapest" } },
    providers: {
      local: local(),
      dear: provider(URL_, price(3, 15)),
      unknown: provider(URL_),
      cheap: provider(URL_, price(0.1, 0.4)),
      free: provider(URL_, price(0, 0)),
      tie: provider(URL_, price(0, 0)),
    },
  });

  it("orders by this request's estimated cost: free first (ties in config order), unknown prices after every known one, local last", () => {
    const costs: Record<string, number | undefined> = { dear: 3, unknown: undefined, cheap: 1, free: 0, tie: 0 };
    expect(orderProviders(["local", "dear", "unknown", "cheap", "free", "tie"], config, "cheapest", Math.random, (id) => costs[id])).toEqual([
      "free",
      "tie",
      "cheap",
      "dear",
      "unknown",
      "local",
    ]);
  });

  it("weighs the output budget: a provider cheap on input but dear on output loses once max_tokens is large", async () => {
    const a = await scenario([{ type: "json" }]);
    const b = await scenario([{ type: "json" }]);
    const route = (body: Record<string, unknown>) =>
      call({
        config: {
          routes: { default: { providers: ["in_cheap", "out_cheap"], strategy: "cheapest" } },
          providers: { in_cheap: provider(a.baseUrl, price(0.1, 20)), out_cheap: provider(b.baseUrl, price(5, 1)) },
        },
        body: chat(body),
      });
    // A 2,000-character prompt (500 tokens) and no output budget: input price decides.
    const long = [{ role: "user", content: "x".repeat(2000) }];
    expect((await route({ messages: long })).headers.get("x-inferrouter-provider")).toBe("in_cheap");
    // max_tokens 4,000: 500*0.1 + 4000*20 > 500*5 + 4000*1.
    expect((await route({ messages: long, max_tokens: 4000 })).headers.get("x-inferrouter-provider")).toBe("out_cheap");
  });

  it("is a strategy the config accepts", () => {
    expect(STRATEGIES).toContain("cheapest");
  });
});
