// The status page's history charts in Chromium against `wrangler dev`: known traffic (three
// providers with prices, one free, two clients, a failover) drawn by the bundled uPlot under the
// page's strict CSP and Trusted Types; hovering the current hour shows the values /v1/usage has.
// Then a continued stream (one provider breaks mid-answer, a prefill provider finishes it), and
// /metrics and /v1/usage add up to all of it, to the cent.
import { chromium, type Browser, type Page } from "playwright-core";
import { getMetricsFromIterator, type PromData } from "prom2javascript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumPath, hoverLast as hoverShowing, screenshotPath, watchProblems } from "../support/browser.ts";
import { startFakeProvider, type FakeProvider } from "../support/fake-provider.ts";
import { CONTINUED_STREAM_SCRIPTS, FIRST_40, knownTrafficConfig, PRICES, usd } from "../support/known-traffic.ts";
import { startWranglerDev, type WranglerDev } from "../support/wrangler-dev.ts";

const ADMIN_KEY = "sk-history-admin-7d3e";
const POLL = { timeout: 20_000, interval: 250 };

let fake: FakeProvider;
let edge: WranglerDev;
let browser: Browser;
let page: Page;
const problems: string[] = [];

async function chat(key: string, route: string, stream = false, content = "hi") {
  const res = await fetch(`${edge.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: route, stream, messages: [{ role: "user", content }] }),
  });
  expect(res.status).toBe(200);
  await res.text();
}

beforeAll(async () => {
  fake = await startFakeProvider();
  const run = `h${Date.now().toString(36)}`;
  await fetch(`${fake.url}/_script/${run}-paid`, { method: "POST", body: JSON.stringify({ steps: [{ type: "json", status: 500, body: { error: { message: "down" } } }] }) });
  const script = (id: string, steps: unknown[]) => fetch(`${fake.url}/_script/${run}-${id}`, { method: "POST", body: JSON.stringify({ steps }) });
  for (const [id, steps] of Object.entries(CONTINUED_STREAM_SCRIPTS)) await script(id, steps);
  const config = knownTrafficConfig((id, price, extra) => ({ type: "openai_compatible", base_url: `${fake.url}/s/${run}-${id}/v1`, model: `${id}-model`, api_key_secret: "UP_KEY", price, retries: 0, ...extra }));
  edge = await startWranglerDev({ config, vars: { ADMIN_API_KEYS: ADMIN_KEY, UP_KEY: "sk-up", ALPHA_KEY: "sk-alpha", BETA_KEY: "sk-beta" } });
  // alpha: 4 answers from cheap, the first after paid's 500 (paid's circuit then skips it or it fails over again).
  for (let i = 0; i < 4; i++) await chat("sk-alpha", "main");
  // beta: 2 free answers and a free stream.
  for (let i = 0; i < 2; i++) await chat("sk-beta", "gratis");
  await chat("sk-beta", "gratis", true);
  browser = await chromium.launch({ executablePath: chromiumPath() });
  const context = await browser.newContext({ locale: "en-US", timezoneId: "UTC", viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  watchProblems(page, problems);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await edge?.stop();
  await fake?.close();
});

async function usage(groupBy: string) {
  const res = await fetch(`${edge.url}/v1/usage?group_by=${groupBy}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return (await res.json()) as { buckets: Array<Record<string, any>>; groups: Record<string, any>; totals: Record<string, any> };
}

const hoverLast = (chartId: string) => hoverShowing(page, chartId);

describe("the status page's history", () => {
  it("draws the charts from /v1/usage, and hovering the current hour shows its values", async () => {
    await page.goto(`${edge.url}/status`);
    await page.fill("#key", ADMIN_KEY);
    await page.click("#login button[type=submit]");
    await expect.poll(() => page.locator("#history .uplot").count(), POLL).toBe(6);

    const byProvider = await usage("provider");
    const byClient = await usage("client");
    const now = (report: typeof byProvider, group: string, key: string) =>
      report.buckets.filter((b) => b[key] === group).at(-1)!;

    const requests = await hoverLast("chart-requests");
    for (const provider of ["cheap", "free"]) expect(requests[provider]).toBe(now(byProvider, provider, "provider").requests.toLocaleString("en-US"));
    expect(requests.cheap).toBe("4");
    expect(requests.free).toBe("3");

    const failures = await hoverLast("chart-failures");
    expect(failures.paid).toBe(String(byProvider.groups.paid.failed + byProvider.groups.paid.failed_over));

    const tokens = await hoverLast("chart-tokens");
    expect(tokens.cheap).toBe(String(now(byProvider, "cheap", "provider").total_tokens));

    const ttft = await hoverLast("chart-ttft");
    const freeTtft = now(byProvider, "free", "provider").ttft_ms;
    const ms = (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`;
    expect(ttft["free p50"]).toBe(ms(freeTtft.p50));
    expect(ttft["free p95"]).toBe(ms(freeTtft.p95));

    const cost = await hoverLast("chart-cost-client");
    const alphaCost = now(byClient, "alpha", "client").cost_usd as number;
    expect(alphaCost).toBeCloseTo((4 * (7 * 0.5 + 3 * 1.5)) / 1e6, 12);
    expect(cost.alpha).toBe(`$${alphaCost.toFixed(6)}`);
    expect(cost.beta).toBe("$0.00");

    // Period totals under each title.
    const perProvider = Object.entries(byProvider.groups).map(([name, totals]) => `${name} ${totals.requests}`).join(", ");
    expect(perProvider).toContain("cheap 4, free 3");
    expect(await page.locator("#chart-requests .period-total").textContent()).toBe(`Period total: 7 (${perProvider})`);
    expect(await page.locator("#chart-cost-provider .period-total").textContent()).toContain(`Period total: $${(byProvider.totals.cost_usd as number).toFixed(6)}`);

    await page.click("#range-week");
    await expect.poll(() => page.locator("#chart-requests .u-legend .u-series").first().locator(".u-label").textContent(), POLL).toBe("Day");
    const week = await hoverLast("chart-requests");
    expect(week.cheap).toBe("4");
    await page.click("#range-day");
    await expect.poll(() => page.locator("#chart-requests .u-legend .u-series").first().locator(".u-label").textContent(), POLL).toBe("Hour");
    await page.locator("#history").screenshot({ path: screenshotPath("status-history.png") });
  });

  it("gives /metrics and /v1/usage under wrangler dev that add up to the same traffic and a continued stream", async () => {
    // alpha: a stream that spaid breaks after 40 words and scheap (prefill) finishes.
    await chat("sk-alpha", "story", true, "Say hello");
    const streamCost = usd(PRICES.paid, 3, Math.ceil(FIRST_40.length / 4)) + usd(PRICES.cheap, 7, 20);
    const alpha = 4 * usd(PRICES.cheap, 7, 3) + streamCost;
    await expect.poll(async () => (await usage("client")).groups.alpha?.requests, POLL).toBe(5);
    const byClient = await usage("client");
    expect(byClient.groups.alpha.cost_usd).toBeCloseTo(alpha, 9);
    expect(byClient.totals.requests).toBe(8);
    const res = await fetch(`${edge.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const metrics = await getMetricsFromIterator((await res.text()).split("\n")[Symbol.iterator]());
    const total = (name: string, where: Record<string, string> = {}) =>
      (metrics[name]!.data as PromData[]).filter((d) => Object.entries(where).every(([k, v]) => d.labels[k] === v)).reduce((sum, d) => sum + d.value, 0);
    expect(total("inferrouter_requests_total")).toBe(8);
    expect(total("inferrouter_requests_total", { client: "beta" })).toBe(3);
    expect(total("inferrouter_cost_usd_total", { client: "alpha" })).toBeCloseTo(alpha, 9);
    expect(total("inferrouter_cost_usd_total")).toBeCloseTo(byClient.totals.cost_usd, 9);
    expect(total("inferrouter_cost_usd_total", { client: "beta" })).toBe(0);
  });

  it("ran without a script error or a CSP violation", () => {
    expect(problems).toEqual([]);
  });
});
