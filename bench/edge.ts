// Edge benchmarks on loopback, side by side in one run: the same scripted provider called directly,
// through the pass-through floor Worker and through InferRouter (JSON and streams, concurrency 1
// and 32); the time failover adds per fault class; and what quota tracking costs.
import { fakeProviderConfig, startFakeProvider, type FakeProvider } from "../test/support/fake-provider.ts";
import type { Step } from "../test/support/fake-provider-protocol.ts";
import { startWranglerDev, type WranglerDev } from "../test/support/wrangler-dev.ts";
import { measure, peakMemoryMiB, timeRequest, type Summary } from "./load.ts";

export const KEY = "sk-bench";
const root = new URL("../", import.meta.url).pathname;

export interface EdgeResults {
  overhead: Array<{ path: string; mode: "json" | "stream"; summary: Summary }>;
  failover: Array<{ fault: string; failed_attempt_p50_ms: number; b_alone_p50_ms: number; with_failover_p50_ms: number; extra_ms: number; over_failed_attempt_ms: number }>;
  quota: Array<{ case: string; summary: Summary }>;
  memory_mib: Record<string, Record<string, number>>;
}

const body = (model: string, stream: boolean) =>
  JSON.stringify({ model, stream, messages: [{ role: "user", content: "Say hello" }] });

export function post(url: string, model: string, stream: boolean, auth = true) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (auth) headers.authorization = `Bearer ${KEY}`;
  return () => timeRequest(url, { method: "POST", headers, body: body(model, stream) });
}

export async function script(fake: FakeProvider, id: string, steps: Step[]) {
  await fetch(`${fake.url}/_script/${id}`, { method: "POST", body: JSON.stringify({ steps }) });
}

/** The bench's ROUTER_CONFIG: one answering provider, limited and exhausted ones, one per fault class. */
export async function benchRouterConfig(fake: FakeProvider) {
  const provider = (id: string, extra: Record<string, unknown> = {}) => fakeProviderConfig(fake, id, extra);
  await script(fake, "a429", [{ type: "json", status: 429, body: { error: { message: "slow down" } } }]);
  await script(fake, "a500", [{ type: "json", status: 500, body: { error: { message: "boom" } } }]);
  await script(fake, "ahang", [{ type: "hang" }]);
  return {
    routes: {
      direct: ["p"],
      limited: ["pl"],
      exhausted: ["px", "p"],
      f429: ["a429", "p"],
      f500: ["a500", "p"],
      frefused: ["arefused", "p"],
      ftimeout: ["ahang", "p"],
      long: ["long"],
      burst: ["burst"],
    },
    providers: {
      p: provider("p"),
      pl: provider("pl", { requests_per_day: 1_000_000_000, requests_per_minute: 1_000_000_000 }),
      px: provider("px", { requests_per_day: 1 }),
      // Every request meets the fault again: a 1 ms cool-down, no retry, a circuit that never opens.
      a429: provider("a429", { rate_limit_cooldown_ms: 1, ...FAULT_EVERY_TIME }),
      a500: provider("a500", FAULT_EVERY_TIME),
      arefused: { ...provider("x", FAULT_EVERY_TIME), base_url: `http://127.0.0.1:${fake.closedPort}/v1` },
      ahang: provider("ahang", { timeout_ms: 100, ...FAULT_EVERY_TIME }),
      long: provider("long"),
      burst: provider("burst"),
    },
  };
}

/** A faulty provider that meets every request: measures one failover per fault, not the breaker. */
const FAULT_EVERY_TIME = { retries: 0, breaker_failures: 1_000_000_000 };

export async function benchEdge(options: { quick?: boolean; log?: (line: string) => void } = {}): Promise<EdgeResults> {
  const log = options.log ?? ((line: string) => console.error(line));
  const n = (count: number) => (options.quick ? Math.max(20, Math.round(count / 10)) : count);
  const fake = await startFakeProvider();
  const config = await benchRouterConfig(fake);
  let edge: WranglerDev | undefined;
  let floor: WranglerDev | undefined;
  try {
    edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: KEY, BENCH_KEY: "sk-bench-upstream" } });
    floor = await startWranglerDev({ configPath: `${root}bench/floor.wrangler.toml`, vars: { UPSTREAM: `${fake.url}/s/p/v1` } });
    const results: EdgeResults = { overhead: [], failover: [], quota: [], memory_mib: {} };

    const paths = {
      direct: (stream: boolean) => post(`${fake.url}/s/p/v1/chat/completions`, "bench-model", stream, false),
      floor: (stream: boolean) => post(`${floor!.url}/v1/chat/completions`, "bench-model", stream, false),
      inferrouter: (stream: boolean) => post(`${edge!.url}/v1/chat/completions`, "direct", stream),
    };
    for (const concurrency of [1, 32]) {
      for (const mode of ["json", "stream"] as const) {
        for (const [path, make] of Object.entries(paths)) {
          const summary = await measure(make(mode === "stream"), n(concurrency === 1 ? 200 : 400), concurrency);
          results.overhead.push({ path, mode, summary });
          log(`overhead ${path} ${mode} c=${concurrency}: p50 ${summary.p50_ms} ms, ttfb p50 ${summary.ttfb_p50_ms} ms, ${summary.rps} rps`);
        }
      }
    }

    const bAlone = await measure(paths.inferrouter(false), n(150), 1);
    const faults: Array<[string, string, () => ReturnType<typeof timeRequest>]> = [
      ["429", "f429", post(`${fake.url}/s/a429/v1/chat/completions`, "m", false, false)],
      ["500", "f500", post(`${fake.url}/s/a500/v1/chat/completions`, "m", false, false)],
      ["connection refused", "frefused", async () => {
        const start = performance.now();
        await fetch(`http://127.0.0.1:${fake.closedPort}/v1/chat/completions`, { method: "POST", body: "{}" }).catch(() => undefined);
        return { totalMs: performance.now() - start, ttfbMs: 0, ok: true };
      }],
      ["timeout (100 ms)", "ftimeout", async () => ({ totalMs: 100, ttfbMs: 100, ok: true })],
    ];
    for (const [fault, route, failedAlone] of faults) {
      const failed = await measure(failedAlone, n(route === "ftimeout" ? 1 : 150), 1, route === "ftimeout" ? 0 : 20);
      const withFailover = await measure(post(`${edge.url}/v1/chat/completions`, route, false), n(route === "ftimeout" ? 30 : 150), 1, 5);
      const extra = withFailover.p50_ms - bAlone.p50_ms;
      results.failover.push({
        fault,
        failed_attempt_p50_ms: failed.p50_ms,
        b_alone_p50_ms: bAlone.p50_ms,
        with_failover_p50_ms: withFailover.p50_ms,
        extra_ms: Math.round(extra * 1000) / 1000,
        over_failed_attempt_ms: Math.round((extra - failed.p50_ms) * 1000) / 1000,
      });
      log(`failover ${fault}: +${extra.toFixed(3)} ms over B alone (failed attempt alone ${failed.p50_ms} ms)`);
    }

    for (const [name, route] of [["no limits (no tracker call)", "direct"], ["limits (one tracker call)", "limited"], ["exhausted, isolate cache (no call) then next", "exhausted"]] as const) {
      const summary = await measure(post(`${edge.url}/v1/chat/completions`, route, false), n(200), 1);
      results.quota.push({ case: name, summary });
      log(`quota ${name}: p50 ${summary.p50_ms} ms`);
    }
    results.memory_mib = { wrangler_dev_inferrouter: await peakMemoryMiB(edge.child.pid!), wrangler_dev_floor: await peakMemoryMiB(floor.child.pid!) };
    return results;
  } finally {
    await edge?.stop();
    await floor?.stop();
    await fake.close();
  }
}
