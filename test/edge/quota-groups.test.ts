// Quota groups: providers that share an upstream account's allowance share one tracker and the
// group's limits, and keep their own counts and circuits in it.
import { describe, expect, it } from "vitest";
import { call, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const ADMIN = { authorization: "Bearer sk-test-admin" };

async function quota(config: unknown) {
  const res = await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN });
  expect(res.status).toBe(200);
  return (await res.json()) as {
    providers: Record<string, Record<string, unknown> & { requests_today: number; circuit: { state: string } }>;
    groups: Record<string, Record<string, unknown>>;
  };
}

// Group trackers are named by group (one per deployment), so each test here uses a group name of its own.
describe("a quota group", () => {
  it("admits exactly its limit across both of its providers under 100 concurrent requests", async () => {
    const a = await scenario();
    const b = await scenario();
    const spare = await scenario();
    const config = {
      routes: { default: { providers: ["a", "b", "spare"], strategy: "weighted" } },
      providers: { a: provider(a.baseUrl, { quota_group: "free" }), b: provider(b.baseUrl, { quota_group: "free" }), spare: provider(spare.baseUrl, { weight: 0.001 }) },
      quota_groups: { free: { requests_per_day: 30, requests_per_minute: 50 } },
    };
    const responses = await Promise.all(Array.from({ length: 100 }, () => call({ config })));
    expect(responses.every((res) => res.status === 200)).toBe(true);
    const aCalls = (await a.calls()).length;
    const bCalls = (await b.calls()).length;
    expect(aCalls + bCalls).toBe(30);
    expect(aCalls).toBeGreaterThan(0);
    expect(bCalls).toBeGreaterThan(0);
    expect(await spare.calls()).toHaveLength(70);

    const report = await quota(config);
    expect(report.groups.free).toEqual({
      providers: ["a", "b"],
      day: expect.any(String),
      requests_today: 30,
      requests_per_day: 30,
      requests_last_minute: 30,
      requests_per_minute: 50,
      tokens_today: null, // no token limit: tokens are not counted (the answers did use some)
      tokens_per_day: null,
      tokens_last_minute: null,
      tokens_per_minute: null,
      next_reset: expect.any(String),
      cooldown_until: null,
      usd_today: null,
      budget_usd_per_day: null,
      budget_usd_remaining_today: null,
      usd_this_month: null,
      budget_usd_per_month: null,
      budget_usd_remaining_this_month: null,
      next_month_reset: expect.any(String),
      requests_leased: 0,
      requests_not_given_back: 0,
    });
    // Each member reports its own share and the group it is in; the spare has none.
    expect(report.providers.a).toMatchObject({ quota_group: "free", requests_today: aCalls, requests_last_minute: aCalls, requests_per_day: 30 });
    expect(report.providers.b).toMatchObject({ quota_group: "free", requests_today: bCalls });
    expect(report.providers.spare).not.toHaveProperty("quota_group");
  });

  it("answers 429 when the group is spent and nothing else is left", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = {
      routes: { default: ["a", "b"] },
      providers: { a: provider(a.baseUrl, { quota_group: "g" }), b: provider(b.baseUrl, { quota_group: "g" }) },
      quota_groups: { g: { requests_per_day: 3 } },
    };
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await call({ config })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect((await a.calls()).length + (await b.calls()).length).toBe(3);
    expect(logs.events().filter((e) => e.event === "infer_skipped" && e.provider === "b").every((e) => e.reason === "daily")).toBe(true);
  });

  it("keeps each member's circuit its own: one model down does not stop the other", async () => {
    const down = await scenario([{ type: "json", status: 500, body: { error: { message: "down" } } }]);
    const up = await scenario();
    const config = {
      routes: { default: ["down", "up"] },
      providers: { down: provider(down.baseUrl, { quota_group: "circuits", retries: 0, breaker_failures: 1 }), up: provider(up.baseUrl, { quota_group: "circuits" }) },
      quota_groups: { circuits: { requests_per_day: 100 } },
    };
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("up");
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("up");
    expect(await down.calls()).toHaveLength(1);
    const report = await quota(config);
    expect(report.providers.down!.circuit.state).toBe("open");
    expect(report.providers.up!.circuit.state).toBe("closed");
    expect(report.groups.circuits).toMatchObject({ requests_today: 3 });
  });
});

describe("quota group config", () => {
  it.each([
    ["a limit of its own", { quota_group: "g", requests_per_day: 5 }, "providers.a.requests_per_day"],
    ["its own daily_reset_tz", { quota_group: "g", daily_reset_tz: "UTC" }, "providers.a.daily_reset_tz"],
    ["an unknown group", { quota_group: "nope" }, "providers.a.quota_group"],
  ])("refuses a provider in a group with %s, naming the path", async (_name, extra, path) => {
    const config = { routes: { default: ["a"] }, providers: { a: provider("http://127.0.0.1:1/v1", extra) }, quota_groups: { g: { requests_per_day: 10 } } };
    const res = await call({ config, body: chat(), headers: { authorization: "Bearer sk-test-admin" } }); // the admin key sees the paths
    expect(res.status).toBe(500);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("invalid_config");
    expect(error.message).toContain(path);
  });
});
