// The hourly history against known traffic: three providers with prices (one of them free), two
// clients, failovers, a retry, a skip, a continued stream and a request every provider failed.
// /v1/usage (each group_by) and /metrics (read with a real Prometheus text parser) must add up
// exactly to what was sent: requests, tokens, and cost to the nano-dollar.
import { getMetricsFromIterator, type PromHistogramData, type PromData } from "prom2javascript";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { call, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

checkLogInvariant();
const ADMIN = { authorization: "Bearer sk-test-admin" };
const CLIENT_ENV = { ALPHA_KEYS: "sk-alpha-1", BETA_KEYS: "sk-beta-1" };
const as = (client: "alpha" | "beta") => ({ authorization: `Bearer sk-${client}-1` });
const ANSWER = Array.from({ length: 60 }, (_, i) => `word${i + 1}`).join(" ");
const FIRST_40 = ANSWER.split(/(?<= )/).slice(0, 40).join("");

const PRICES = {
  paid: { input_per_mtok: 3, output_per_mtok: 15 },
  cheap: { input_per_mtok: 0.5, output_per_mtok: 1.5 },
  free: { input_per_mtok: 0, output_per_mtok: 0 },
};
const usd = (price: { input_per_mtok: number; output_per_mtok: number }, prompt: number, completion: number) =>
  (prompt * price.input_per_mtok + completion * price.output_per_mtok) / 1e6;
const FAIL_500 = { type: "json" as const, status: 500, body: { error: { message: "upstream broke", type: "server_error" } } };

/** The config of one request: each gets its own fake endpoints, so no circuit carries over. */
async function configWith(steps: { paid?: unknown[]; cheap?: unknown[]; free?: unknown[] }) {
  const url = async (s?: unknown[]) => (s ? (await scenario(s as never)).baseUrl : "http://127.0.0.1:1/v1");
  return {
    routes: { main: ["paid", "cheap"], gratis: ["nokey", "free"] },
    providers: {
      paid: provider(await url(steps.paid), { price: PRICES.paid, retries: 1, retry_backoff_ms: 1, model: "paid-model" }),
      cheap: provider(await url(steps.cheap), { price: PRICES.cheap, capabilities: ["prefill"], model: "cheap-model" }),
      free: provider(await url(steps.free), { price: PRICES.free, model: "free-model" }),
      nokey: provider("http://127.0.0.1:1/v1", { api_key_secret: "UNSET_KEY", price: PRICES.paid }),
    },
    clients: { alpha: { key_secret: "ALPHA_KEYS" }, beta: { key_secret: "BETA_KEYS" } },
  };
}

// What was sent, worked out by hand from the script below.
const JSON_USAGE = { prompt: 7, completion: 3 }; // the fake's JSON usage
const CONTINUED = { prompt: 7, completion: 20 }; // cheap streams the 20 words after the prefill
const PAID_ESTIMATE = { prompt: 3, completion: Math.ceil(FIRST_40.length / 4) }; // paid broke before its usage
const EXPECTED = {
  requests: 7,
  answered: 6,
  failed: 1,
  prompt_tokens: 2 * 7 + 3 * 7 + 7,
  completion_tokens: 2 * 3 + 3 * 3 + 20,
  cost: {
    paid: usd(PRICES.paid, PAID_ESTIMATE.prompt, PAID_ESTIMATE.completion),
    cheap: 2 * usd(PRICES.cheap, JSON_USAGE.prompt, JSON_USAGE.completion) + usd(PRICES.cheap, CONTINUED.prompt, CONTINUED.completion),
    free: 0,
  },
};
let config: Awaited<ReturnType<typeof configWith>>;

// The traffic's own lines stay out of the test output.
const quiet = vi.spyOn(console, "log").mockImplementation(() => {});
afterAll(() => quiet.mockRestore());

beforeAll(async () => {
  // alpha, twice: paid 500, retried once, 500 again, fails over to cheap.
  for (let i = 0; i < 2; i++) {
    config = await configWith({ paid: [FAIL_500], cheap: [{ type: "json" }] });
    expect((await call({ config, body: chat({ model: "main" }), headers: as("alpha"), env: CLIENT_ENV })).status).toBe(200);
  }
  // beta, three times: nokey is skipped (missing key), free answers.
  for (let i = 0; i < 3; i++) {
    config = await configWith({ free: [{ type: "json" }] });
    expect((await call({ config, body: chat({ model: "gratis" }), headers: as("beta"), env: CLIENT_ENV })).status).toBe(200);
  }
  // alpha: a stream paid breaks after 40 words, continued on cheap.
  config = await configWith({ paid: [{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }], cheap: [{ type: "sse", content: ANSWER, prefill: true }] });
  const stream = await call({ config, body: chat({ model: "main", stream: true }), headers: as("alpha"), env: CLIENT_ENV });
  expect(await stream.text()).toContain("[DONE]");
  // beta: both fail (paid retried once): 503.
  config = await configWith({ paid: [FAIL_500], cheap: [{ type: "json", status: 401, body: { error: { message: "bad key" } } }] });
  expect((await call({ config, body: chat({ model: "main" }), headers: as("beta"), env: CLIENT_ENV })).status).toBe(503);
});

async function usage(query: string) {
  const res = await call({ config, method: "GET", path: `/v1/usage?${query}`, headers: ADMIN, env: CLIENT_ENV });
  expect(res.status).toBe(200);
  return (await res.json()) as any;
}

describe("GET /v1/usage", () => {
  it("totals add up to the traffic: requests by outcome, tokens, cost to the nano-dollar", async () => {
    const { totals } = await usage("group_by=provider");
    expect(totals).toMatchObject({
      requests: EXPECTED.requests,
      answered: EXPECTED.answered,
      failed: EXPECTED.failed,
      failures: { AuthError: 1 },
      // Two retries on paid for the JSON requests' first call, one for the failed request.
      retried: 3,
      // paid → cheap twice, the continued stream's break, and both of the failed request's providers.
      failed_over: 5,
      skipped: 3,
      prompt_tokens: EXPECTED.prompt_tokens,
      completion_tokens: EXPECTED.completion_tokens,
      total_tokens: EXPECTED.prompt_tokens + EXPECTED.completion_tokens,
      cost_unknown_requests: 0,
      cost_estimated_requests: 1,
    });
    expect(totals.cost_usd).toBeCloseTo(EXPECTED.cost.paid + EXPECTED.cost.cheap, 9);
  });

  it("groups by provider, client, route and model, each adding up to the same totals", async () => {
    const byProvider = (await usage("group_by=provider")).groups;
    expect(byProvider.cheap).toMatchObject({ answered: 3, prompt_tokens: 2 * 7 + 7, completion_tokens: 2 * 3 + 20 });
    expect(byProvider.free).toMatchObject({ answered: 3, cost_usd: 0, prompt_tokens: 21, completion_tokens: 9 });
    expect(byProvider.nokey).toMatchObject({ skipped: 3, requests: 0 });
    expect(byProvider.paid).toMatchObject({ retried: 3, failed_over: 4, requests: 0 });
    // The continued stream's cost at each provider: what paid streamed before it broke counts at paid.
    expect(byProvider.paid.cost_usd).toBeCloseTo(EXPECTED.cost.paid, 9);
    expect(byProvider.cheap.cost_usd).toBeCloseTo(EXPECTED.cost.cheap, 9);
    // The request no provider answered ends with no provider.
    expect(byProvider[""]).toMatchObject({ failed: 1, requests: 1 });

    const byClient = (await usage("group_by=client")).groups;
    expect(byClient.alpha).toMatchObject({ requests: 3, answered: 3, prompt_tokens: 21, completion_tokens: 26 });
    expect(byClient.alpha.cost_usd).toBeCloseTo(EXPECTED.cost.paid + EXPECTED.cost.cheap, 9);
    expect(byClient.beta).toMatchObject({ requests: 4, answered: 3, failed: 1, cost_usd: 0 });

    const byRoute = (await usage("group_by=route")).groups;
    expect(byRoute.main.requests + byRoute.gratis.requests).toBe(EXPECTED.requests);
    const byModel = (await usage("group_by=model&interval=day")).groups;
    expect(byModel["cheap-model"]).toMatchObject({ answered: 3 });
    expect(byModel["free-model"]).toMatchObject({ answered: 3 });
  });

  it("gives hourly buckets whose sums are the totals, and a TTFT quantile for the stream", async () => {
    const report = await usage("group_by=provider&interval=hour");
    const sum = (key: string) => report.buckets.reduce((total: number, b: any) => total + b[key], 0);
    expect(sum("requests")).toBe(EXPECTED.requests);
    expect(sum("completion_tokens")).toBe(EXPECTED.completion_tokens);
    for (const bucket of report.buckets) expect(Date.parse(bucket.start) % 3_600_000).toBe(0);
    expect(report.groups.cheap.ttft_ms.p50).toBeGreaterThan(0);
    expect(report.groups.cheap.duration_ms.p99).toBeGreaterThan(0);
  });

  it("answers a bad range or group with a 400 naming the parameter", async () => {
    const bad = async (query: string, param: string) => {
      const res = await call({ config, method: "GET", path: `/v1/usage?${query}`, headers: ADMIN, env: CLIENT_ENV });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as any).error).toMatchObject({ param, type: "invalid_request_error" });
    };
    await bad("group_by=colour", "group_by");
    await bad("interval=minute", "interval");
    await bad("from=yesterday", "from");
    await bad("from=2026-12-07T10:00:00Z&to=2026-12-06T10:00:00Z", "from");
    await bad("from=2020-01-01", "from"); // past usage_retention_days
    await bad("grup_by=client", "grup_by");
  });

  it("needs an admin key: a configured client's key gets 403 admin_key_required", async () => {
    const res = await call({ config, method: "GET", path: "/v1/usage", headers: as("alpha"), env: CLIENT_ENV });
    expect(res.status).toBe(403);
    const { error } = (await res.json()) as { error: { type: string; code: string; message: string } };
    expect(error).toMatchObject({ type: "permission_error", code: "admin_key_required" });
    expect(error.message).toContain("ADMIN_API_KEYS");
  });
});

async function scrape(headers: Record<string, string>, env: Record<string, unknown> = {}) {
  return call({ config, method: "GET", path: "/metrics", headers, env: { ...CLIENT_ENV, ...env } });
}

describe("GET /metrics", () => {
  it("parses as Prometheus text, with OTel GenAI histograms and inferrouter counters that add up to the traffic", async () => {
    const res = await scrape(ADMIN);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const metrics = await getMetricsFromIterator((await res.text()).split("\n")[Symbol.iterator]());
    const histogram = (name: string) => {
      expect(metrics[name]?.type, name).toBe("histogram");
      return metrics[name]!.data as PromHistogramData[];
    };
    const matching = <T extends { labels: Record<string, string> }>(data: T[], where: Record<string, string>) =>
      data.filter((d) => Object.entries(where).every(([k, v]) => d.labels[k] === v));
    const total = (name: string, where: Record<string, string> = {}) => {
      expect(metrics[name]?.type, name).toBe(name.endsWith("_total") ? "counter" : "gauge");
      return matching(metrics[name]!.data as PromData[], where).reduce((sum, d) => sum + d.value, 0);
    };
    const count = (name: string) => histogram(name).reduce((sum, d) => sum + d.count, 0);

    const tokens = histogram("gen_ai_client_token_usage");
    const sumOf = (data: PromHistogramData[]) => data.reduce((sum, d) => sum + d.sum!, 0);
    expect(sumOf(matching(tokens, { gen_ai_token_type: "input" }))).toBe(EXPECTED.prompt_tokens);
    expect(sumOf(matching(tokens, { gen_ai_token_type: "output" }))).toBe(EXPECTED.completion_tokens);
    const [cheap] = matching(tokens, { gen_ai_provider_name: "cheap", gen_ai_token_type: "output" });
    expect(cheap).toMatchObject({ labels: { gen_ai_request_model: "cheap-model" }, count: 3, sum: 2 * 3 + 20 });
    // Cumulative buckets: the JSON answers' 3 tokens are under le=4, the stream's 20 under le=64.
    expect(cheap!.buckets).toMatchObject({ "1": 0, "4": 2, "16": 2, "64": 3, "+Inf": 3 });

    expect(count("gen_ai_server_request_duration")).toBe(EXPECTED.answered); // the failed request has no provider
    expect(count("gen_ai_server_time_to_first_token")).toBe(1); // one stream
    expect(total("inferrouter_requests_total")).toBe(EXPECTED.requests);
    expect(total("inferrouter_requests_total", { outcome: "failed", category: "AuthError" })).toBe(1);
    expect(total("inferrouter_requests_total", { client: "beta", outcome: "answered" })).toBe(3);
    expect(total("inferrouter_failovers_total")).toBe(5);
    expect(total("inferrouter_retries_total", { provider: "paid" })).toBe(3);
    expect(total("inferrouter_skips_total", { provider: "nokey", category: "missing_key" })).toBe(3);
    expect(total("inferrouter_tokens_total", { type: "completion" })).toBe(EXPECTED.completion_tokens);
    expect(total("inferrouter_cost_usd_total")).toBeCloseTo(EXPECTED.cost.paid + EXPECTED.cost.cheap, 9);
    expect(total("inferrouter_cost_usd_total", { client: "beta" })).toBe(0);
    expect(total("inferrouter_cost_usd_total", { provider: "paid", model: "paid-model" })).toBeCloseTo(EXPECTED.cost.paid, 9);
    expect(total("inferrouter_cost_usd_total", { provider: "cheap" })).toBeCloseTo(EXPECTED.cost.cheap, 9);
    expect((metrics.inferrouter_circuit_state!.data as PromData[]).map((d) => d.labels.provider).sort()).toEqual(["cheap", "free", "nokey", "paid"]);
  });

  it("takes METRICS_TOKEN as well as an admin key, and nothing else", async () => {
    expect((await scrape({ authorization: "Bearer scrape-me" }, { METRICS_TOKEN: "scrape-me" })).status).toBe(200);
    const client = await scrape(as("alpha"), { METRICS_TOKEN: "scrape-me" });
    expect(client.status).toBe(403);
    expect(((await client.json()) as { error: { message: string } }).error.message).toContain("METRICS_TOKEN");
    expect((await scrape({})).status).toBe(403); // the default header carries a PROXY_API_KEYS key
    expect((await scrape({ authorization: "" })).status).toBe(401);
    // The scraper's token opens /metrics only.
    const res = await call({ config, method: "GET", path: "/v1/usage", headers: { authorization: "Bearer scrape-me" }, env: { ...CLIENT_ENV, METRICS_TOKEN: "scrape-me" } });
    expect(res.status).toBe(401);
  });
});
