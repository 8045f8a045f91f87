// The status page in a real headless Chromium (Debian's `chromium`, driven by playwright-core; no
// browser is downloaded) against the Worker under `wrangler dev`, with providers scripted on the
// fake provider. The page refreshes itself: after the first key entry it is never reloaded.
import { chromium, type Browser, type Page, type Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromiumPath, hoverLast, screenshotPath, watchProblems } from "../support/browser.ts";
import { startFakeProvider, type FakeProvider, type Step } from "../support/fake-provider.ts";
import { startWranglerDev, type WranglerDev } from "../support/wrangler-dev.ts";

const ADMIN_KEY = "sk-status-admin-5f1c";
const CLIENT_KEY = "sk-status-client-9a2e";
const POLL = { timeout: 20_000, interval: 250 };

let fake: FakeProvider;
let edge: WranglerDev;
let browser: Browser;
let page: Page;
const requests: Request[] = [];
const problems: string[] = [];

async function script(id: string, steps: Step[]) {
  await fetch(`${fake.url}/_script/${id}`, { method: "POST", body: JSON.stringify({ steps }) });
}

async function chat(route: string) {
  const res = await fetch(`${edge.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: route, messages: [{ role: "user", content: "hi" }] }),
  });
  expect(res.status).toBe(200);
  return res.json();
}

async function quota() {
  const res = await fetch(`${edge.url}/v1/quota`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return (await res.json()) as { providers: Record<string, Record<string, unknown>> };
}

const card = (id: string) => page.locator(`article.provider[data-provider="${id}"]`);
const barValue = (id: string, metric: string) => card(id).locator(`[data-metric="${metric}"] .bar-value`).textContent();
const notice = () => page.locator("#notice").textContent();
/** A time as the page writes it in the browser context's zone and locale (UTC, en-US). */
const clock = (iso: string) =>
  new Intl.DateTimeFormat("en-US", { timeZone: "UTC", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(new Date(iso));

beforeAll(async () => {
  fake = await startFakeProvider();
  const provider = (id: string, extra: Record<string, unknown> = {}) => ({
    type: "openai_compatible",
    base_url: `${fake.url}/s/${id}/v1`,
    model: `model-${id}`,
    api_key_secret: "STATUS_UPSTREAM_KEY",
    timeout_ms: 5_000,
    ...extra,
  });
  const config = {
    routes: { metered: ["alpha"], hot: ["beta", "alpha"], nokey: ["gamma", "alpha"] },
    providers: {
      alpha: provider("alpha", { requests_per_day: 100, requests_per_minute: 10, tokens_per_day: 10_000, tokens_per_minute: 2_000, daily_reset_tz: "America/Los_Angeles" }),
      beta: provider("beta", { requests_per_day: 50 }),
      gamma: provider("gamma", { api_key_secret: "STATUS_MISSING_KEY" }),
    },
  };
  edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: CLIENT_KEY, ADMIN_API_KEYS: ADMIN_KEY, STATUS_UPSTREAM_KEY: "sk-upstream-status" } });
  browser = await chromium.launch({ executablePath: chromiumPath() });
  // A fixed zone and locale, so the test can compute the times and numbers the page should show.
  const context = await browser.newContext({ locale: "en-US", timezoneId: "UTC", viewport: { width: 1280, height: 720 } });
  page = await context.newPage();
  page.on("request", (request) => requests.push(request));
  watchProblems(page, problems);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await edge?.stop();
  await fake?.close();
});

describe("GET /status in Chromium", () => {
  it("is one HTML page under a strict CSP that needs no key to load and asks for one", async () => {
    const res = await fetch(`${edge.url}/status`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const body = await res.text();
    expect(body).toContain(`<script nonce="${nonce}">`);
    expect(body).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet/); // nothing loaded from elsewhere

    await page.goto(`${edge.url}/status`);
    await expect.poll(() => page.locator("#login").isVisible(), POLL).toBe(true);
    expect(await page.locator("#board").isVisible()).toBe(false);
  });

  it("answers a wrong key with a clear message and asks again", async () => {
    await page.fill("#key", "sk-not-the-admin-key");
    await page.click("#login button[type=submit]");
    await expect.poll(notice, POLL).toContain("That admin key was refused (401 from /v1/quota)");
    expect(await page.locator("#login").isVisible()).toBe(true);
    expect(await page.inputValue("#key")).toBe("");
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
  });

  it("takes the key and shows a provider's numbers after traffic, the reset in its zone, and a missing key", async () => {
    await script("alpha", []);
    for (let i = 0; i < 3; i++) await chat("metered");
    await page.fill("#key", ADMIN_KEY);
    await page.click("#login button[type=submit]");
    await expect.poll(() => barValue("alpha", "requests_today"), POLL).toBe("3 / 100");
    expect(await barValue("alpha", "requests_last_minute")).toBe("3 / 10");
    // Each scripted answer carries usage.total_tokens = 10; tokens are recorded after the answer.
    await expect.poll(() => barValue("alpha", "tokens_today"), POLL).toBe("30 / 10,000");
    expect(await barValue("alpha", "tokens_last_minute")).toBe("30 / 2,000");
    expect(await card("alpha").getAttribute("data-state")).toBe("serving");
    expect(await card("alpha").locator(".state").textContent()).toBe("serving");

    // The next reset is midnight where the provider counts its day.
    const { providers } = await quota();
    const reset = card("alpha").locator(".reset time");
    expect(await reset.getAttribute("datetime")).toBe(providers.alpha!.next_reset);
    expect(await reset.textContent()).toMatch(/^\w{3},? 00:00 P[SD]T$/);
    expect(await card("alpha").locator(".reset").textContent()).toContain("(America/Los_Angeles)");

    expect(await card("gamma").getAttribute("data-state")).toBe("missing");
    expect(await card("gamma").locator(".state").textContent()).toBe("key missing");
    // A provider without limits is not counted: no bars that would read as "no traffic".
    expect(await card("gamma").locator(".uncounted").textContent()).toContain("not counted");
    expect(await card("gamma").locator(".bar").count()).toBe(0);
    expect(await barValue("beta", "requests_today")).toBe("0 / 50");
    expect(await barValue("beta", "tokens_today")).toBe("not counted"); // no token limit: the tracker counts no tokens

    // The key went only into the Authorization header, never into a URL.
    expect(requests.some((r) => r.url().includes(ADMIN_KEY))).toBe(false);
    const quotaCalls = requests.filter((r) => new URL(r.url()).pathname === "/v1/quota");
    expect(quotaCalls.length).toBeGreaterThan(0);
    expect(await quotaCalls.at(-1)!.headerValue("authorization")).toBe(`Bearer ${ADMIN_KEY}`);
  });

  it("shows a cool-down after a 429 with retry-after, and the failover and skips, without a reload", async () => {
    await script("beta", [{ type: "json", status: 429, headers: { "retry-after": "120" }, body: { error: { message: "slow down" } } }]);
    await chat("hot"); // beta 429 -> alpha
    await chat("hot"); // beta skipped while it cools down -> alpha
    await chat("nokey"); // gamma skipped (no key) -> alpha

    await expect.poll(() => card("beta").getAttribute("data-state"), POLL).toBe("cooldown");
    const { providers } = await quota();
    const until = String(providers.beta!.cooldown_until);
    const untilText = clock(until);
    const state = card("beta").locator(".state");
    expect(await state.locator("time").getAttribute("datetime")).toBe(until);
    expect(await state.textContent()).toBe(`cooling down until ${untilText}`);
    expect(await card("beta").locator(".state-detail").textContent()).toMatch(/^in (1 min \d+ s|2 min) · reason: rate_limit$/);
    await expect.poll(() => barValue("alpha", "requests_today"), POLL).toBe("6 / 100");

    const rows = page.locator("#recent tbody tr");
    await expect.poll(() => rows.count(), POLL).toBe(3);
    const row = (i: number) => rows.nth(i).locator("td").allTextContents();
    // Newest first: the gamma skip, the beta skip, the beta failover.
    expect((await row(0)).slice(1, 5)).toEqual(["skipped", "nokey", "gamma", "key missing"]);
    expect((await row(1)).slice(1, 5)).toEqual(["skipped", "hot", "beta", "cooling down"]);
    expect((await row(1))[5]).toBe(untilText);
    expect((await row(2)).slice(1, 4)).toEqual(["failover", "hot", "beta"]);
    expect((await row(2))[4]).toMatch(/^RateLimit, HTTP 429/);

    expect(await page.locator("#summary .chip").allTextContents()).toEqual(["1 serving", "1 cooling down", "1 key missing"]);
  });

  it("keeps the key for the tab across a reload, and forgets it on request", async () => {
    await page.reload();
    await expect.poll(() => barValue("alpha", "requests_today"), POLL).toBe("6 / 100");
    expect(await page.locator("#login").isVisible()).toBe(false);
    await page.screenshot({ path: screenshotPath("status.png"), fullPage: true });

    await page.click("#forget");
    expect(await page.locator("#login").isVisible()).toBe(true);
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
  });

  it("says what an erring /v1/quota answered, then draws circuits, groups, clients and a spent allowance", async () => {
    // A second Worker with a quota group, clients and circuits, brought to those states by real requests.
    const provider = (id: string, extra: Record<string, unknown> = {}) => ({
      type: "openai_compatible",
      base_url: `${fake.url}/s/${id}/v1`,
      model: "llama",
      api_key_secret: "STATUS_UPSTREAM_KEY",
      timeout_ms: 5_000,
      retries: 0,
      breaker_failures: 1,
      ...extra,
    });
    const config = {
      routes: { fast: ["groq", "cerebras", "openrouter"], all: ["openrouter"], solo: ["mistral"] },
      providers: {
        groq: provider("g2-groq", { quota_group: "meta", breaker_cooldown_ms: 600_000 }),
        // Its circuit opens for 1 ms: half-open by the time the page looks.
        cerebras: provider("g2-cerebras", { quota_group: "meta", breaker_cooldown_ms: 1 }),
        openrouter: provider("g2-openrouter", { model: "free", requests_per_day: 2 }),
        // The only member of a group whose day is spent: its own counts are under no limit of its own.
        mistral: provider("g2-mistral", { quota_group: "solo" }),
      },
      quota_groups: { meta: { requests_per_day: 1000, requests_per_minute: 30 }, solo: { requests_per_day: 1 } },
      clients: {
        "ci-bot": { key_secret: "CI_BOT_KEY", routes: ["fast"], requests_per_day: 500, requests_per_minute: 30 },
        alice: { key_secret: "ALICE_KEY", tokens_per_day: 5000 },
        "solo-app": { key_secret: "SOLO_KEY", routes: ["solo"] },
      },
    };
    const down = [{ type: "json", status: 500, body: { error: { message: "down" } } }] as Step[];
    await script("g2-groq", down);
    await script("g2-cerebras", down);
    await script("g2-openrouter", []);
    await script("g2-mistral", []);
    const second = await startWranglerDev({
      config,
      vars: { ADMIN_API_KEYS: ADMIN_KEY, STATUS_UPSTREAM_KEY: "sk-upstream-status", CI_BOT_KEY: "sk-ci-bot-1", ALICE_KEY: "sk-alice-1", SOLO_KEY: "sk-solo-1" },
    });
    try {
      const ask = async (key: string, model: string) => {
        const res = await fetch(`${second.url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
        });
        expect(res.status).toBe(200);
        return res.json();
      };
      await ask("sk-ci-bot-1", "fast"); // groq 500 (circuit opens), cerebras 500 (opens, 1 ms), openrouter answers
      await ask("sk-alice-1", "all"); // openrouter's second and last request of the day
      await ask("sk-solo-1", "solo"); // group solo's one request of the day
      const report = (await (await fetch(`${second.url}/v1/quota`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as {
        providers: Record<string, { next_reset: string; circuit: { open_until: string | null } }>;
      };

      const other = await page.context().newPage();
      other.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      // The first answer is an error the Worker can give (a bad config): the page says it and retries.
      let answers = 0;
      await other.route("**/v1/quota", (route) =>
        answers++ === 0
          ? route.fulfill({ status: 500, json: { error: { message: "Invalid ROUTER_CONFIG: routes.fast.0: unknown provider", type: "server_error", param: null, code: "invalid_config" } } })
          : route.continue(),
      );
      await other.goto(`${second.url}/status`);
      await other.fill("#key", ADMIN_KEY);
      await other.click("#login button[type=submit]");
      await expect.poll(() => other.locator("#notice").textContent(), POLL).toContain("/v1/quota answered 500: Invalid ROUTER_CONFIG: routes.fast.0: unknown provider");
      const state = (id: string) => other.locator(`article.provider[data-provider="${id}"]`);
      await expect.poll(() => state("groq").getAttribute("data-state"), POLL).toBe("open");
      expect(await other.locator("#notice").textContent()).toBe("");
      expect(await state("groq").locator(".state").textContent()).toBe(`circuit open until ${clock(report.providers.groq!.circuit.open_until!)}`);
      expect(await state("groq").locator(".state-detail").textContent()).toContain("1 failures in a row");
      expect(await state("groq").locator(".meta").textContent()).toBe("llama · openai_compatible · group meta");
      expect(await state("cerebras").getAttribute("data-state")).toBe("half_open");
      expect(await state("openrouter").getAttribute("data-state")).toBe("limited");
      expect(await state("openrouter").locator(".state").textContent()).toBe(`limit reached until ${clock(report.providers.openrouter!.next_reset)}`);

      // A member of a spent group is out, though its own counts are under no limit of its own.
      expect(await state("mistral").getAttribute("data-state")).toBe("limited");
      expect(await state("mistral").locator(".state-detail").textContent()).toContain("group solo: today's allowance is used up");
      expect(await other.locator('#groups tr[data-group="solo"]').getAttribute("data-state")).toBe("limited");
      expect(await other.locator('#groups tr[data-group="meta"]').getAttribute("data-state")).toBe("serving");
      expect(await other.locator('#clients tr[data-client="solo-app"] .uncounted').textContent()).toContain("not counted");
      const group = other.locator('#groups tr[data-group="meta"] td');
      expect((await group.allTextContents()).slice(0, 4)).toEqual(["meta", "groq, cerebras", "Requests today2 / 1,000", "Requests, last minute2 / 30"]);
      expect(await other.locator('#clients tr[data-client="ci-bot"] td').nth(1).textContent()).toBe("fast");
      expect(await other.locator('#clients tr[data-client="ci-bot"] [data-metric="requests_today"] .bar-value').textContent()).toBe("1 / 500");
      expect(await other.locator('#clients tr[data-client="alice"] td').nth(1).textContent()).toBe("all routes");
      expect(await other.locator('#clients tr[data-client="alice"] [data-metric="tokens_today"] .bar-value').textContent()).toBe("10 / 5,000");
      await other.screenshot({ path: screenshotPath("status-health.png"), fullPage: true });
      // On a phone the page itself never scrolls sideways (wide tables scroll on their own).
      await other.setViewportSize({ width: 390, height: 800 });
      expect(await other.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
      await other.close();
    } finally {
      await second.stop();
    }
  }, 150_000);

  it("draws USD budgets as limits: spent / budget and what is left, a provider whose budget is spent, and costs rounded half-up to the cent", async () => {
    // An answer (7 prompt + 3 completion tokens) at $4,500 per Mtok costs $0.045: 0.04499999... as a
    // float, which toFixed(2) writes $0.04; a person reads $0.05. It spends bud's and capped's $0.04.
    const provider = (id: string, extra: Record<string, unknown>) => ({
      type: "openai_compatible", base_url: `${fake.url}/s/${id}/v1`, model: "llama", api_key_secret: "STATUS_UPSTREAM_KEY", timeout_ms: 5_000, ...extra,
    });
    const config = {
      routes: { tight: ["bud"], spill: ["bud", "spare"], pooled: ["pooled"] },
      providers: {
        bud: provider("b3-bud", { price: { input_per_mtok: 4500, output_per_mtok: 4500 }, budget_usd_per_day: 0.04 }),
        spare: provider("b3-spare", { price: { input_per_mtok: 1000, output_per_mtok: 1000 } }),
        pooled: provider("b3-pooled", { price: { input_per_mtok: 1000, output_per_mtok: 1000 }, quota_group: "pool" }),
      },
      quota_groups: { pool: { budget_usd_per_day: 1 } },
      clients: {
        capped: { key_secret: "CAPPED_KEY", budget_usd_per_day: 0.04 },
        monthly: { key_secret: "MONTHLY_KEY", budget_usd_per_month: 1 },
        grouped: { key_secret: "GROUPED_KEY" },
      },
    };
    await script("b3-bud", []);
    await script("b3-spare", []);
    await script("b3-pooled", []);
    const third = await startWranglerDev({ config, vars: { ADMIN_API_KEYS: ADMIN_KEY, STATUS_UPSTREAM_KEY: "sk-upstream-status", CAPPED_KEY: "sk-capped-1", MONTHLY_KEY: "sk-monthly-1", GROUPED_KEY: "sk-grouped-1" } });
    try {
      const ask = async (key: string, model: string, status: number) => {
        const res = await fetch(`${third.url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          // max_tokens 1: the reservation ($0.009) fits the budget; the answer settles at $0.045.
          body: JSON.stringify({ model, max_tokens: 1, messages: [{ role: "user", content: "hi" }] }),
        });
        expect(res.status).toBe(status);
        return (await res.json()) as { error?: { code: string } };
      };
      await ask("sk-capped-1", "tight", 200); // bud answers: $0.045 of bud's and capped's $0.04
      expect((await ask("sk-capped-1", "tight", 429)).error?.code).toBe("budget_exceeded"); // answered by no provider
      await ask("sk-monthly-1", "spill", 200); // bud skipped (budget), spare answers: $0.01
      await ask("sk-grouped-1", "pooled", 200); // pooled answers: $0.01 of its group's $1 a day
      const report = (await (await fetch(`${third.url}/v1/quota`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json()) as {
        providers: Record<string, { next_reset: string; usd_today: number }>;
      };
      expect(report.providers.bud!.usd_today).toBe(0.045);

      const other = await page.context().newPage();
      watchProblems(other, problems);
      await other.goto(`${third.url}/status`);
      await other.fill("#key", ADMIN_KEY);
      await other.click("#login button[type=submit]");
      const bud = other.locator('article.provider[data-provider="bud"]');
      await expect.poll(() => bud.getAttribute("data-state"), POLL).toBe("spent");
      expect(await bud.locator(".state").textContent()).toBe(`budget spent until ${clock(report.providers.bud!.next_reset)}`);
      expect(await bud.locator(".state-detail").textContent()).toContain("today's budget is spent");
      expect(await bud.locator('[data-metric="usd_today"] .bar-value').textContent()).toBe("$0.05 / $0.04 · $0.00 left");
      expect(await bud.locator(".uncounted").count()).toBe(0);
      expect(await other.locator('article.provider[data-provider="spare"] .uncounted').textContent()).toContain("not counted");
      const client = (name: string) => other.locator(`#clients tr[data-client="${name}"]`);
      expect(await client("capped").locator(".uncounted").count()).toBe(0);
      expect(await client("capped").locator('[data-metric="usd_today"] .bar-value').textContent()).toBe("$0.05 / $0.04 · $0.00 left");
      expect(await client("capped").locator('[data-metric="requests_today"] .bar-value').textContent()).toBe("1 · no limit");
      expect(await client("monthly").locator('[data-metric="usd_this_month"] .bar-value').textContent()).toBe("$0.01 / $1.00 · $0.99 left");
      expect(await client("monthly").locator('[data-metric="usd_today"]').count()).toBe(0);
      expect(await other.locator('#recent tr[data-provider="bud"] td.why').textContent()).toBe("budget spent");
      // A quota group's budget, in its row of the groups table.
      const pool = other.locator('#groups tr[data-group="pool"]');
      expect(await pool.locator('[data-metric="usd_today"] .bar-value').textContent()).toBe("$0.01 / $1.00 · $0.99 left");
      expect(await pool.locator('[data-metric="usd_this_month"]').count()).toBe(0);

      // The history: the capped client's 429 is the series of no provider, named so in every chart.
      await expect.poll(() => other.locator("#history .uplot").count(), POLL).toBe(6);
      for (const chart of ["chart-requests", "chart-failures", "chart-tokens", "chart-cost-provider"]) {
        const legend = Object.keys(await hoverLast(other, chart));
        expect(legend, chart).toContain("(no provider)");
        expect(legend, chart).not.toContain("Value");
      }
      expect(Object.keys(await hoverLast(other, "chart-ttft"))).toContain("(no provider) p50");
      expect((await hoverLast(other, "chart-cost-provider")).bud).toBe("$0.05");
      expect(await other.locator("#chart-cost-provider .period-total").textContent()).toMatch(/^Period total: \$0\.07 \(.*bud \$0\.05/);
      await other.close();
    } finally {
      await third.stop();
    }
  }, 150_000);

  it("ran without a script error or a CSP violation", () => {
    expect(problems).toEqual([]);
  });
});
