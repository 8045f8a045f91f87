// node bench/usage.ts [--base 0d5de58] [--rounds 6] [--requests 150]
// The usage history's cost on the request path: this checkout's Worker and the base commit's
// (before issue 20), both bundled and run by plain workerd in the same run, in interleaved rounds,
// against the same fake provider (a priced provider, so cost_usd and the history are computed).
// Reports p50 latency and the workerd process's CPU per request (utime + stime, /proc), which is
// what the free plan's 10 ms counts and what a shared machine disturbs least.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startFakeProvider } from "../test/support/fake-provider.ts";
import { fakeProviderConfig } from "../test/support/fake-provider.ts";
import { KEY, post } from "./edge.ts";
import { collect, summarize, type Sample } from "./load.ts";
import { cpuMs, serveWorker } from "./workerd.ts";

const { values } = parseArgs({ options: { base: { type: "string", default: "0d5de58" }, rounds: { type: "string", default: "6" }, requests: { type: "string", default: "150" } } });
const root = new URL("../", import.meta.url).pathname;
const rounds = Number(values.rounds);
const perRound = Number(values.requests);

// The base commit's tree, with this checkout's node_modules (its dependencies are a subset).
const baseDir = mkdtempSync(join(tmpdir(), "inferrouter-bench-base-"));
execFileSync("sh", ["-c", `git -C "${root}" archive ${values.base} | tar -x -C "${baseDir}"`]);
symlinkSync(join(root, "node_modules"), join(baseDir, "node_modules"));

const fake = await startFakeProvider();
const provider = fakeProviderConfig(fake, "p", { price: { input_per_mtok: 1, output_per_mtok: 2 } });
const config = { routes: { direct: ["p"] }, providers: { p: provider } };
const vars = { ROUTER_CONFIG: config, PROXY_API_KEYS: KEY, BENCH_KEY: "sk-bench-upstream" };
const workers = {
  base: await serveWorker(join(baseDir, "wrangler.toml"), vars, true),
  usage: await serveWorker(join(root, "wrangler.toml"), vars, true),
};
const cases = ["json", "stream"] as const;
const samples: Record<string, Sample[]> = {};
const cpu: Record<string, { ms: number; requests: number }> = {};
try {
  for (const [name, w] of Object.entries(workers)) for (const c of cases) await collect(post(`${w.url}/v1/chat/completions`, "direct", c === "stream"), 30);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? (["usage", "base"] as const) : (["base", "usage"] as const);
    for (const c of cases) {
      for (const name of order) {
        const w = workers[name];
        const key = `${name} ${c}`;
        const before = cpuMs(w.running.pid);
        const run = await collect(post(`${w.url}/v1/chat/completions`, "direct", c === "stream"), perRound);
        if (run.samples.some((s) => !s.ok)) throw new Error(`${key}: a request failed`);
        const spent = cpuMs(w.running.pid) - before;
        (samples[key] ??= []).push(...run.samples);
        const entry = (cpu[key] ??= { ms: 0, requests: 0 });
        entry.ms += spent;
        entry.requests += perRound;
      }
    }
    console.error(`round ${r + 1}/${rounds} done`);
  }
} finally {
  await workers.base.stop();
  await workers.usage.stop();
  await fake.close();
  rmSync(baseDir, { recursive: true, force: true });
}
const round3 = (n: number) => Math.round(n * 1000) / 1000;
const rows = Object.keys(samples).map((key) => {
  const s = summarize(samples[key]!);
  return { case: key, requests: s.requests, p50_ms: s.p50_ms, p99_ms: s.p99_ms, cpu_ms_per_request: round3(cpu[key]!.ms / cpu[key]!.requests) };
});
console.log("| case | requests | p50 ms | p99 ms | CPU ms / request |\n| --- | --- | --- | --- | --- |");
for (const row of rows) console.log(`| ${row.case} | ${row.requests} | ${row.p50_ms} | ${row.p99_ms} | ${row.cpu_ms_per_request} |`);
console.log(JSON.stringify({ base: values.base, rounds, per_round: perRound, rows }));
