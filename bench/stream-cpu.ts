// npm run bench:stream-cpu [-- --before DIR] [-- --quick]: CPU per 1,000-frame stream under plain
// workerd, process CPU (utime + stime of the workerd process over a counted run, divided by the
// requests), in both delivery modes: one frame per write (each reaches workerd as its own read, as
// tokens do from a model) and all frames written at once. References in the same run: the native
// pass-through, a pipe into an IdentityTransformStream and the smallest JS pump
// (bench/stream-refs-worker.ts). InferRouter is measured with each stream relay (stream_relay =
// "frames" and "native"); --before DIR adds the Worker of another checkout (e.g. `git worktree add
// /tmp/before 0d5de58`, with node_modules linked) measured in the same rounds. Also the CPU of a JSON
// request, and from these the longest answer that fits the free plan's 10 ms.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseCommandLine } from "../shared/cli.ts";
import { startFakeProvider } from "../test/support/fake-provider.ts";
import { benchRouterConfig, KEY, post, script } from "./edge.ts";
import { timeRequest } from "./load.ts";
import { cpuPerRequest, longStream, serveWorker } from "./workerd.ts";

const USAGE = `usage: npm run bench:stream-cpu [-- --before DIR] [-- --quick] [-- --rounds N] [-- --only NAME]
  --before DIR   also measure the Worker of another checkout in the same rounds
  --quick        fewer streams per round (and 1 round)
  --rounds N     rounds to take the median of (default 3)
  --only NAME    measure only this row`;
const { values } = parseCommandLine({
  name: "bench:stream-cpu",
  usage: USAGE,
  options: { before: { type: "string" }, quick: { type: "boolean", default: false }, rounds: { type: "string" }, only: { type: "string" } },
});
const root = new URL("../", import.meta.url).pathname;
const rounds = Number(values.rounds ?? (values.quick ? 1 : 3));
const counts = values.quick ? { long: 10, burst: 40, json: 200 } : { long: 30, burst: 150, json: 600 };
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
const round3 = (value: number) => Math.round(value * 1000) / 1000;

const fake = await startFakeProvider();
const config = await benchRouterConfig(fake);
await script(fake, "long", [{ type: "sse", events: longStream() }]);
const burstBody = `${longStream().map((event) => `data: ${JSON.stringify(event)}\n\n`).join("")}data: [DONE]\n\n`;
await script(fake, "burst", [{ type: "raw", status: 200, body: burstBody, headers: { "content-type": "text/event-stream" } }]);
const vars = { PROXY_API_KEYS: KEY, BENCH_KEY: "sk-bench-upstream" };
// This checkout's routes with each relay; an older checkout knows only the list form.
const withRelays = {
  ...config,
  routes: {
    ...config.routes,
    long_frames: { providers: ["long"], stream_relay: "frames" },
    burst_frames: { providers: ["burst"], stream_relay: "frames" },
    long_native: { providers: ["long"], stream_relay: "native" },
    burst_native: { providers: ["burst"], stream_relay: "native" },
  },
};

const servers: Array<Awaited<ReturnType<typeof serveWorker>>> = [];
try {
  const refs = await serveWorker(join(root, "bench/stream-refs.wrangler.toml"), { UPSTREAM: `${fake.url}/s` }, false);
  servers.push(refs);
  const now = await serveWorker(join(root, "wrangler.toml"), { ...vars, ROUTER_CONFIG: withRelays }, true);
  servers.push(now);
  let before: typeof now | undefined;
  if (values.before) {
    if (!existsSync(join(values.before, "node_modules"))) throw new Error(`${values.before} needs node_modules (ln -s ${root}node_modules ${values.before}/node_modules)`);
    before = await serveWorker(join(values.before, "wrangler.toml"), { ...vars, ROUTER_CONFIG: config }, true);
    servers.push(before);
  }
  const ref = (mode: string, id: string) => () =>
    timeRequest(`${refs.url}/${mode}/${id}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "m", stream: true, stream_options: { include_usage: true }, messages: [] }) });
  const ir = (server: typeof now, route: string, stream: boolean) => post(`${server.url}/v1/chat/completions`, route, stream);
  type Case = { name: string; pid: number; send: () => ReturnType<typeof timeRequest>; n: number };
  const cases: Case[] = [];
  for (const [delivery, id] of [["one frame per write", "long"], ["all at once", "burst"]] as const) {
    const n = id === "long" ? counts.long : counts.burst;
    for (const mode of ["native", "pipe", "pump"]) cases.push({ name: `${delivery} | reference: ${mode}`, pid: refs.running.pid, send: ref(mode, id), n });
    if (before) cases.push({ name: `${delivery} | InferRouter before (${values.before})`, pid: before.running.pid, send: ir(before, id, true), n });
    cases.push({ name: `${delivery} | InferRouter stream_relay = "frames"`, pid: now.running.pid, send: ir(now, `${id}_frames`, true), n });
    cases.push({ name: `${delivery} | InferRouter stream_relay = "native"`, pid: now.running.pid, send: ir(now, `${id}_native`, true), n });
  }
  cases.push({ name: "JSON request | reference: native", pid: refs.running.pid, send: () => timeRequest(`${refs.url}/native/p/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "m", messages: [] }) }), n: counts.json });
  if (before) cases.push({ name: `JSON request | InferRouter before (${values.before})`, pid: before.running.pid, send: ir(before, "direct", false), n: counts.json });
  cases.push({ name: "JSON request | InferRouter", pid: now.running.pid, send: ir(now, "direct", false), n: counts.json });

  // --only TEXT: just the cases whose name holds TEXT (a quick look at one relay).
  if (values.only) cases.splice(0, cases.length, ...cases.filter((c) => c.name.includes(values.only!)));
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      const process = { pid: c.pid } as Parameters<typeof cpuPerRequest>[0];
      const started = performance.now();
      samples.get(c.name)!.push(await cpuPerRequest(process, c.send, c.n));
      console.error(`${c.name}: ${samples.get(c.name)!.at(-1)} ms CPU a request (${Math.round(performance.now() - started)} ms wall for the run)`);
    }
    console.error(`round ${r + 1}/${rounds} done`);
  }
  const rows = cases.map((c) => ({ case: c.name, requests: c.n, rounds, cpu_ms: median(samples.get(c.name)!), all_ms: samples.get(c.name)! }));
  const cpu = (name: string) => rows.find((row) => row.case === name)?.cpu_ms;
  const nativeLong = cpu("one frame per write | reference: native") ?? Number.NaN;
  console.log("| delivery | relay | CPU ms per request (median) | × native | rounds |\n| --- | --- | --- | --- | --- |");
  for (const row of rows) {
    const [delivery, relay] = row.case.split(" | ");
    const native = cpu(`${delivery} | reference: native`) ?? Number.NaN;
    console.log(`| ${delivery} | ${relay} | ${row.cpu_ms} | ${round3(row.cpu_ms / native)} | ${row.all_ms.join(", ")} |`);
  }
  // The longest answer within 10 ms: the request's fixed cost (a JSON request) plus a per-token cost
  // read from the one-frame-per-write stream (1,000 frames, ~1 token each).
  for (const relay of ["frames", "native"]) {
    const fixed = cpu("JSON request | InferRouter")!;
    const stream = cpu(`one frame per write | InferRouter stream_relay = "${relay}"`)!;
    const perToken = Math.max(1e-6, (stream - fixed) / 1000);
    console.log(`stream_relay = "${relay}": ~${round3(perToken * 1000)} µs per token, fixed ${fixed} ms: longest answer within 10 ms ≈ ${Math.floor((10 - fixed) / perToken)} tokens (${round3(stream / nativeLong)}× native at one frame per write)`);
  }
  console.log(JSON.stringify({ rounds, rows }));
} finally {
  for (const server of servers) await server.stop();
  await fake.close();
}
