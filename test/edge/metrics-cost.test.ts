// USD as /metrics, /v1/usage and /v1/quota show it: float sums rounded to the nano-dollar (three
// answers of $0.1 read 0.3, not 0.30000000000000004), and inferrouter_cost_usd_total at 0 for a free
// tier but absent for a provider without a price (unknown, never 0; null in /v1/usage). Read with a real Prometheus
// text parser as well as from the raw text.
import { getMetricsFromIterator, type PromData } from "prom2javascript";
import { describe, expect, it, vi } from "vitest";
import { call, chat, provider, scenario } from "./harness.ts";

vi.spyOn(console, "log").mockImplementation(() => {});

const ADMIN = { authorization: "Bearer sk-test-admin" };
const ALPHA = { authorization: "Bearer sk-alpha-1" };
const ENV = { ALPHA_KEYS: "sk-alpha-1" };
// The fake answers with usage 7 prompt / 3 completion tokens: (7 + 3) * $0.01 = $0.1 an answer.
const PRICE = { input_per_mtok: 10_000, output_per_mtok: 10_000 };

describe("USD values", () => {
  it("are rounded to the nano-dollar in /metrics, /v1/usage and /v1/quota", async () => {
    expect(0.1 + 0.1 + 0.1).toBe(0.30000000000000004); // what an unrounded sum shows
    const paid = await scenario();
    const config = {
      routes: { default: ["paid"] },
      providers: { paid: provider(paid.baseUrl, { price: PRICE, budget_usd_per_day: 1 }) },
      clients: { alpha: { key_secret: "ALPHA_KEYS", budget_usd_per_month: 1 } },
    };
    for (let i = 0; i < 3; i++) expect((await call({ config, body: chat({ max_tokens: 5 }), headers: ALPHA, env: ENV })).status).toBe(200);

    const res = await call({ config, method: "GET", path: "/metrics", headers: ADMIN, env: ENV });
    expect(res.status).toBe(200);
    const text = await res.text();
    const lines = (name: string) => text.split("\n").filter((line) => line.startsWith(`${name}{`));
    expect(lines("inferrouter_cost_usd_total")).toEqual(['inferrouter_cost_usd_total{provider="paid",route="default",client="alpha",model="upstream-model"} 0.3']);
    expect(lines("inferrouter_budget_remaining_usd").sort()).toEqual(['inferrouter_budget_remaining_usd{client="alpha",period="month"} 0.7', 'inferrouter_budget_remaining_usd{provider="paid",period="day"} 0.7']);
    // No value anywhere with float noise (a run of 0s or 9s deep in the decimals).
    expect(text).not.toMatch(/ \d+\.\d*(0{6,}[1-9]|9{6,})\d*$/m);

    const usage = (await (await call({ config, method: "GET", path: "/v1/usage", headers: ADMIN, env: ENV })).json()) as { totals: { cost_usd: number } };
    expect(usage.totals.cost_usd).toBe(0.3);
    const quota = (await (await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN, env: ENV })).json()) as {
      providers: Record<string, Record<string, unknown>>;
      clients: Record<string, Record<string, unknown>>;
    };
    expect(quota.providers.paid).toMatchObject({ usd_today: 0.3, budget_usd_remaining_today: 0.7 });
    expect(quota.clients.alpha).toMatchObject({ usd_this_month: 0.3, budget_usd_remaining_this_month: 0.7 });
  });
});

describe("inferrouter_cost_usd_total", () => {
  it("is 0 for a free tier (price 0) and absent for a provider without a price (unknown)", async () => {
    const free = await scenario();
    const unknown = await scenario();
    const config = {
      routes: { free: ["free"], unknown: ["unknown"] },
      providers: {
        free: provider(free.baseUrl, { price: { input_per_mtok: 0, output_per_mtok: 0 } }),
        unknown: provider(unknown.baseUrl),
      },
    };
    for (const model of ["free", "unknown", "free"]) expect((await call({ config, body: chat({ model }) })).status).toBe(200);
    const res = await call({ config, method: "GET", path: "/metrics", headers: ADMIN });
    expect(res.status).toBe(200);
    const metrics = await getMetricsFromIterator((await res.text()).split("\n")[Symbol.iterator]());
    // The file's storage is shared: only this test's providers.
    const samples = (name: string) =>
      ((metrics[name]?.data as PromData[] | undefined) ?? []).filter((d) => d.labels.route === "free" || d.labels.route === "unknown").map((d) => ({ provider: d.labels.provider, value: Number(d.value) }));
    expect(samples("inferrouter_cost_usd_total")).toEqual([{ provider: "free", value: 0 }]);
    expect(samples("inferrouter_cost_unknown_requests_total")).toEqual([{ provider: "unknown", value: 1 }]);

    // /v1/usage the same way: 0 for the free tier, null (unknown) where every request had no price.
    const usage = (await (await call({ config, method: "GET", path: "/v1/usage?group_by=provider", headers: ADMIN })).json()) as {
      groups: Record<string, { cost_usd: number | null; cost_unknown_requests: number }>;
    };
    expect(usage.groups.free).toMatchObject({ cost_usd: 0, cost_unknown_requests: 0 });
    expect(usage.groups.unknown).toMatchObject({ cost_usd: null, cost_unknown_requests: 1 });
  });
});
