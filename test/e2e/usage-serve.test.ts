// The usage history under `npm run serve` (plain workerd, Durable Objects on disk): known traffic
// (three providers with prices, one of them free, two clients, a failover, a continued stream)
// adds up in /v1/usage and /metrics, a stop right after the last request (inside the 2 s batch
// interval) loses nothing, and the history is still there after the restart.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getMetricsFromIterator, type PromData } from "prom2javascript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker } from "../../scripts/serve/worker-project.ts";
import { startFakeProvider, type FakeProvider } from "../support/fake-provider.ts";
import { CONTINUED_STREAM_SCRIPTS, FIRST_40, knownTrafficConfig, PRICES, usd } from "../support/known-traffic.ts";
import { removeServeDirs, serveDirs, startServe } from "../support/serve-process.ts";

const root = new URL("../../", import.meta.url).pathname;
const ADMIN = "sk-usage-admin";

let fake: FakeProvider;
let bundle: string;
beforeAll(async () => {
  fake = await startFakeProvider();
  bundle = mkdtempSync(join(tmpdir(), "inferrouter-usage-bundle-"));
  bundleWorker(join(root, "wrangler.toml"), bundle);
});
afterAll(async () => {
  await fake?.close();
  removeServeDirs();
  if (bundle) rmSync(bundle, { recursive: true, force: true });
});

const script = (id: string, steps: unknown[]) => fetch(`${fake.url}/_script/${id}`, { method: "POST", body: JSON.stringify({ steps }) });
const upstream = (id: string) => `${fake.url}/s/${id}/v1`;

async function send(url: string, key: string, model: string, stream = false) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "Say hello" }] }),
  });
  await res.text();
  return res.status;
}

const get = async (url: string, path: string) => {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status, path).toBe(200);
  return res;
};

describe("usage history under npm run serve", () => {
  it("adds up to known traffic, and a stop right after it loses nothing: the restarted serve reports the same", async () => {
    const run = `u${Date.now().toString(36)}`;
    await script(`${run}-paid`, [{ type: "json", status: 401, body: { error: { message: "no" } } }]);
    await script(`${run}-cheap`, [{ type: "json" }]);
    await script(`${run}-free`, [{ type: "json" }]);
    for (const [id, steps] of Object.entries(CONTINUED_STREAM_SCRIPTS)) await script(`${run}-${id}`, steps);
    const config = knownTrafficConfig((id, price, extra) => ({ type: "openai_compatible", base_url: upstream(`${run}-${id}`), model: `${id}-model`, api_key_secret: "UPSTREAM_KEY", price, ...extra }));
    const dirs = serveDirs(config, { ADMIN_API_KEYS: ADMIN, UPSTREAM_KEY: "sk-up", ALPHA_KEY: "sk-alpha", BETA_KEY: "sk-beta" });
    let serve = await startServe(dirs, { bundle });
    let first: unknown;
    try {
      // alpha: 2 answers from cheap (paid's 401 fails over, then paid is skipped: its key is taken as
      // bad) and one continued stream (spaid breaks, scheap finishes); beta: 3 free answers.
      for (let i = 0; i < 2; i++) expect(await send(serve.url, "sk-alpha", "main")).toBe(200);
      for (let i = 0; i < 3; i++) expect(await send(serve.url, "sk-beta", "gratis")).toBe(200);
      expect(await send(serve.url, "sk-alpha", "story", true)).toBe(200);
    } finally {
      // At once: the isolate's batch has not been written yet (2 s interval).
      expect(await serve.stop()).toBe(0);
    }

    serve = await startServe(dirs, { bundle });
    try {
      const report = (await (await get(serve.url, "/v1/usage?group_by=client")).json()) as any;
      const cost = 2 * usd(PRICES.cheap, 7, 3) + usd(PRICES.paid, 3, Math.ceil(FIRST_40.length / 4)) + usd(PRICES.cheap, 7, 20);
      expect(report.totals).toMatchObject({ requests: 6, answered: 6, failed_over: 2, skipped: 1, prompt_tokens: 6 * 7, completion_tokens: 5 * 3 + 20, cost_estimated_requests: 1 });
      expect(report.totals.cost_usd).toBeCloseTo(cost, 9);
      expect(report.groups.alpha).toMatchObject({ requests: 3, prompt_tokens: 21, completion_tokens: 26 });
      expect(report.groups.beta).toMatchObject({ requests: 3, cost_usd: 0 });
      first = report.totals;

      const metrics = await getMetricsFromIterator((await (await get(serve.url, "/metrics")).text()).split("\n")[Symbol.iterator]());
      const total = (name: string) => (metrics[name]!.data as PromData[]).reduce((sum, d) => sum + d.value, 0);
      expect(total("inferrouter_requests_total")).toBe(6);
      expect(total("inferrouter_failovers_total")).toBe(2);
      expect(total("inferrouter_cost_usd_total")).toBeCloseTo(cost, 9);
    } finally {
      expect(await serve.stop()).toBe(0);
    }

    // Once more: nothing new, nothing lost or counted twice.
    serve = await startServe(dirs, { bundle });
    try {
      expect(((await (await get(serve.url, "/v1/usage?group_by=client")).json()) as any).totals).toEqual(first);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });
});
