// Client keys with their own limits: clients.<name> = { key_secret, routes, requests_per_day,
// requests_per_minute, tokens_per_day }, beside PROXY_API_KEYS (unlimited).
import { describe, expect, it } from "vitest";
import { CLIENT_KEY, call, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const ADMIN = { authorization: "Bearer sk-test-admin" };
const as = (key: string) => ({ authorization: `Bearer ${key}` });

/** A config with routes `default` (provider a) and `other` (provider b), and the given clients. */
async function setup(clients: Record<string, unknown>) {
  const a = await scenario();
  const b = await scenario();
  const config = { routes: { default: ["a"], other: ["b"] }, providers: { a: provider(a.baseUrl), b: provider(b.baseUrl) }, clients };
  return { a, b, config };
}

async function errorOf(res: Response) {
  return ((await res.json()) as { error: { message: string; type: string; param: string | null; code: string } }).error;
}

describe("client limits", () => {
  it("admit exactly requests_per_minute under 100 concurrent requests; the rest get 429 client_rate_limited calling no provider", async () => {
    const { a, config } = await setup({ bot: { key_secret: "BOT_KEY", requests_per_minute: 17 } });
    const env = { BOT_KEY: "sk-bot-1" };
    const responses = await Promise.all(Array.from({ length: 100 }, () => call({ config, env, headers: as("sk-bot-1") })));
    const ok = responses.filter((res) => res.status === 200);
    const limited = responses.filter((res) => res.status === 429);
    expect(ok).toHaveLength(17);
    expect(limited).toHaveLength(83);
    expect(await a.calls()).toHaveLength(17);
    const error = await errorOf(limited[0]!);
    expect(error).toMatchObject({ code: "client_rate_limited", type: "rate_limit_error" });
    expect(error.message).toContain('"bot"');
    const retryAfter = Number(limited[0]!.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(61); // the 60 s window plus CALL_MARGIN_MS
    // The log names the client, never a key.
    const started = logs.events().filter((e) => e.event === "infer_started");
    expect(started).toHaveLength(100);
    expect(started.every((e) => e.client === "bot")).toBe(true);
    // PROXY_API_KEYS keys stay unlimited.
    for (let i = 0; i < 3; i++) expect((await call({ config, env, headers: as(CLIENT_KEY) })).status).toBe(200);
    expect(await a.calls()).toHaveLength(20);
  });

  it("counts a day's requests and reports them in /v1/quota; a denied request counts against no provider", async () => {
    const { a, config } = await setup({ app: { key_secret: "APP_KEY", routes: ["default"], requests_per_day: 2, tokens_per_day: 1000 } });
    const env = { APP_KEY: "sk-app-old,sk-app-new" };
    expect((await call({ config, env, headers: as("sk-app-new") })).status).toBe(200);
    expect((await call({ config, env, headers: as("sk-app-old") })).status).toBe(200); // rotation: both keys are the client
    const denied = await call({ config, env, headers: as("sk-app-new") });
    expect(denied.status).toBe(429);
    expect(Number(denied.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await a.calls()).toHaveLength(2);
    const report = (await (await call({ config, env, method: "GET", path: "/v1/quota", headers: ADMIN })).json()) as {
      clients: Record<string, unknown>;
      providers: Record<string, { requests_today: number }>;
    };
    expect(report.clients.app).toEqual({
      routes: ["default"],
      requests_today: 2,
      requests_per_day: 2,
      requests_last_minute: 2,
      requests_per_minute: null,
      tokens_today: 20, // the fake provider's usage, 10 per answer
      tokens_per_day: 1000,
      next_reset: expect.any(String),
      checks: 3,
      tokens_last_minute: 20,
      tokens_per_minute: null,
      usd_today: null, // no budget: USD is not counted
      budget_usd_per_day: null,
      budget_usd_remaining_today: null,
      usd_this_month: null,
      budget_usd_per_month: null,
      budget_usd_remaining_this_month: null,
      next_month_reset: expect.any(String),
      requests_leased: 0,
      requests_not_given_back: 0,
    });
  });

  it("does not count a request that in the end called no provider (every provider skipped)", async () => {
    const a = await scenario();
    const config = {
      routes: { default: ["a"] },
      providers: { a: provider(a.baseUrl, { api_key_secret: "NOT_SET_ANYWHERE" }) },
      clients: { refunded: { key_secret: "APP_KEY", requests_per_minute: 2 } },
    };
    const env = { APP_KEY: "sk-app-1" };
    for (let i = 0; i < 3; i++) expect((await call({ config, env, headers: as("sk-app-1") })).status).toBe(503);
    const report = (await (await call({ config, env, method: "GET", path: "/v1/quota", headers: ADMIN })).json()) as {
      clients: Record<string, { requests_today: number; requests_last_minute: number }>;
    };
    expect(report.clients.refunded).toMatchObject({ requests_today: 0, requests_last_minute: 0 });
  });

  it("serves a client over its limit from the isolate's denial cache (no tracker call)", async () => {
    // Client names are unique per test: the denial cache belongs to the isolate, shared by the file's tests.
    const { config } = await setup({ cached: { key_secret: "BOT_KEY", requests_per_day: 1 } });
    const env = { BOT_KEY: "sk-bot-1" };
    expect((await call({ config, env, headers: as("sk-bot-1") })).status).toBe(200);
    expect((await call({ config, env, headers: as("sk-bot-1") })).status).toBe(429); // denied by the tracker: cached
    for (let i = 0; i < 4; i++) expect((await call({ config, env, headers: as("sk-bot-1") })).status).toBe(429);
    const report = (await (await call({ config, env, method: "GET", path: "/v1/quota", headers: ADMIN })).json()) as {
      clients: Record<string, { checks?: number; requests_today: number }>;
    };
    expect(report.clients.cached).toMatchObject({ requests_today: 1, checks: 2 });
    expect(logs.events().filter((e) => e.event === "infer_failed" && e.status === 429)).toHaveLength(5);
  });

  it("does not name routes a client may not use in a 404", async () => {
    const { config } = await setup({ hidden: { key_secret: "APP_KEY", routes: ["default"] } });
    const res = await call({ config, env: { APP_KEY: "sk-app-1" }, headers: as("sk-app-1"), body: chat({ model: "no-such-model" }) });
    expect(res.status).toBe(404);
    const error = await errorOf(res);
    expect(error.message).toContain("known models are default");
    expect(error.message).not.toContain("other");
  });

  it("answers 403 model_not_allowed for a route the client may not use, counting nothing", async () => {
    const { b, config } = await setup({ ci: { key_secret: "CI_KEY", routes: ["default"], requests_per_day: 1 } });
    const env = { CI_KEY: "sk-ci-1" };
    const res = await call({ config, env, headers: as("sk-ci-1"), body: chat({ model: "other" }) });
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toMatchObject({ code: "model_not_allowed", param: "model", type: "invalid_request_error" });
    expect(await b.calls()).toHaveLength(0);
    // The 403 did not spend the client's one request of the day.
    expect((await call({ config, env, headers: as("sk-ci-1") })).status).toBe(200);
    const failed = logs.events().find((e) => e.event === "infer_failed");
    expect(failed).toMatchObject({ status: 403 });
    expect(logs.events().find((e) => e.event === "infer_started" && e.request_id === failed!.request_id)).toMatchObject({ client: "ci" });
  });

  it("lists only the client's routes in /v1/models, and every route for PROXY_API_KEYS", async () => {
    const { config } = await setup({ ci: { key_secret: "CI_KEY", routes: ["other"] } });
    const env = { CI_KEY: "sk-ci-2" };
    const ids = async (key: string) =>
      ((await (await call({ config, env, method: "GET", path: "/v1/models", headers: as(key) })).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
    expect(await ids("sk-ci-2")).toEqual(["other"]);
    expect(await ids(CLIENT_KEY)).toEqual(["default", "other"]);
  });

  it("refuses a key of a client whose secret is not set, and a client naming an unknown route", async () => {
    const { config } = await setup({ ghost: { key_secret: "NOT_SET_ANYWHERE" } });
    expect((await call({ config, headers: as("sk-anything") })).status).toBe(401);
    const bad = { ...config, clients: { ci: { key_secret: "CI_KEY", routes: ["nope"] } } };
    const res = await call({ config: bad, headers: { authorization: "Bearer sk-test-admin" } }); // the admin key sees the paths
    expect(res.status).toBe(500);
    expect((await errorOf(res)).message).toContain("clients.ci.routes[0]");
  });
});
