// /metrics' inferrouter_budget_remaining_usd: the USD left of each budget that is set, for a
// provider, a quota group and a client, after known traffic at known prices (read with a real
// Prometheus text parser).
import { getMetricsFromIterator, type PromData } from "prom2javascript";
import { describe, expect, it, vi } from "vitest";
import { call, chat, provider, scenario } from "./harness.ts";

vi.spyOn(console, "log").mockImplementation(() => {});

const PRICE = { input_per_mtok: 1000, output_per_mtok: 2000 };
// The fake answers with usage 7 prompt / 3 completion tokens.
const COST = (7 * PRICE.input_per_mtok + 3 * PRICE.output_per_mtok) / 1e6;
const ADMIN = { authorization: "Bearer sk-test-admin" };
const ALPHA = { authorization: "Bearer sk-alpha-1" };
const ENV = { ALPHA_KEYS: "sk-alpha-1" };

describe("GET /metrics: budgets", () => {
  it("reports what is left of each budget that is set, by provider, group or client and period", async () => {
    const solo = await scenario();
    const member = await scenario();
    const plain = await scenario();
    const config = {
      routes: { solo: ["solo"], grouped: ["member"], plain: ["plain"] },
      providers: {
        solo: provider(solo.baseUrl, { price: PRICE, budget_usd_per_day: 1, budget_usd_per_month: 10 }),
        member: provider(member.baseUrl, { price: PRICE, quota_group: "pool" }),
        plain: provider(plain.baseUrl, { price: PRICE }),
      },
      quota_groups: { pool: { budget_usd_per_month: 3 } },
      clients: { alpha: { key_secret: "ALPHA_KEYS", budget_usd_per_day: 2 } },
    };
    for (const model of ["solo", "grouped", "plain"]) {
      expect((await call({ config, body: chat({ model }), headers: ALPHA, env: ENV })).status).toBe(200);
    }
    const res = await call({ config, method: "GET", path: "/metrics", headers: ADMIN, env: ENV });
    expect(res.status).toBe(200);
    const metrics = await getMetricsFromIterator((await res.text()).split("\n")[Symbol.iterator]());
    expect(metrics.inferrouter_budget_remaining_usd?.type).toBe("gauge");
    const samples = (metrics.inferrouter_budget_remaining_usd!.data as PromData[]).map((d) => ({ labels: d.labels, value: Number(d.value) }));
    const left = (labels: Record<string, string>) => samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    expect(left({ provider: "solo", period: "day" })).toBeCloseTo(1 - COST, 9);
    expect(left({ provider: "solo", period: "month" })).toBeCloseTo(10 - COST, 9);
    expect(left({ group: "pool", period: "month" })).toBeCloseTo(3 - COST, 9);
    expect(left({ client: "alpha", period: "day" })).toBeCloseTo(2 - 3 * COST, 9);
    // Only budgets that are set: no sample for a provider without one, a group member, or an unset period.
    expect(samples).toHaveLength(4);
  });
});
