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
const root = new URL("../", import.meta.url).pathname;
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;
const round3 = (value: number) => Math.round(value * 1000) / 1000;

export interface StreamCpuOptions {
  /** Another checkout's root, whose Worker is measured in the same rounds. */
  before?: string;
  quick?: boolean;
  rounds?: number;
  /** Only the cases whose name holds this text. */
  only?: string;
  log?: (line: string) => void;
}

export interface StreamCpuRow {
  delivery: string;
  relay: string;
  requests: number;
  /** The median over the rounds, ms of CPU a request. */
  cpu_ms: number;
  /** Each round's figure. */
  all_ms: number[];
  /** cpu_ms over the native pass-through's in the same delivery mode. */
  x_native: number;
}

export interface StreamCpuResults {
  rounds: number;
  rows: StreamCpuRow[];
  /** Per relay: the per-token cost and the longest answer within the free plan's 10 ms. */
  longest: Array<{ relay: string; fixed_ms: number; per_token_us: number; tokens_in_10_ms: number; x_native_one_frame_per_write: number }>;
}

/** CPU per 1,000-frame stream in both delivery modes, the references and InferRouter's relays in the same rounds. */
export async function benchStreamCpu(options: StreamCpuOptions = {}): Promise<StreamCpuResults> {
  const log = options.log ?? ((line: string) => console.error(line));
  const rounds = options.rounds ?? (options.quick ? 1 : 3);
  const counts = options.quick ? { long: 10, burst: 40, json: 200 } : { long: 30, burst: 150, json: 600 };
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
    if (options.before) {
      if (!existsSync(join(options.before, "node_modules"))) throw new Error(`${options.before} needs node_modules (ln -s ${root}node_modules ${options.before}/node_modules)`);
      before = await serveWorker(join(options.before, "wrangler.toml"), { ...vars, ROUTER_CONFIG: config }, true);
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
      if (before) cases.push({ name: `${delivery} | InferRouter before (${options.before})`, pid: before.running.pid, send: ir(before, id, true), n });
      cases.push({ name: `${delivery} | InferRouter stream_relay = "frames"`, pid: now.running.pid, send: ir(now, `${id}_frames`, true), n });
      cases.push({ name: `${delivery} | InferRouter stream_relay = "native"`, pid: now.running.pid, send: ir(now, `${id}_native`, true), n });
    }
    cases.push({ name: "JSON request | reference: native", pid: refs.running.pid, send: () => timeRequest(`${refs.url}/native/p/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "m", messages: [] }) }), n: counts.json });
    if (before) cases.push({ name: `JSON request | InferRouter before (${options.before})`, pid: before.running.pid, send: ir(before, "direct", false), n: counts.json });
    cases.push({ name: "JSON request | InferRouter", pid: now.running.pid, send: ir(now, "direct", false), n: counts.json });

    // --only TEXT: just the cases whose name holds TEXT (a quick look at one relay).
    if (options.only) cases.splice(0, cases.length, ...cases.filter((c) => c.name.includes(options.only!)));
    const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const c of cases) {
        const process = { pid: c.pid } as Parameters<typeof cpuPerRequest>[0];
        const started = performance.now();
        samples.get(c.name)!.push(await cpuPerRequest(process, c.send, c.n));
        log(`${c.name}: ${samples.get(c.name)!.at(-1)} ms CPU a request (${Math.round(performance.now() - started)} ms wall for the run)`);
      }
      log(`round ${r + 1}/${rounds} done`);
    }
    const cpuOf = (name: string) => median(samples.get(name) ?? [Number.NaN]);
    const rows: StreamCpuRow[] = cases.map((c) => {
      const [delivery = "", relay = ""] = c.name.split(" | ");
      return { delivery, relay, requests: c.n, cpu_ms: cpuOf(c.name), all_ms: samples.get(c.name)!, x_native: round3(cpuOf(c.name) / cpuOf(`${delivery} | reference: native`)) };
    });
    // The longest answer within 10 ms: the request's fixed cost (a JSON request) plus a per-token cost
    // read from the one-frame-per-write stream (1,000 frames, ~1 token each).
    const longest = ["frames", "native"].map((relay) => {
      const fixed = cpuOf("JSON request | InferRouter");
      const stream = cpuOf(`one frame per write | InferRouter stream_relay = "${relay}"`);
      const perToken = Math.max(1e-6, (stream - fixed) / 1000);
      return { relay, fixed_ms: fixed, per_token_us: round3(perToken * 1000), tokens_in_10_ms: Math.floor((10 - fixed) / perToken), x_native_one_frame_per_write: round3(stream / cpuOf("one frame per write | reference: native")) };
    }).filter((row) => Number.isFinite(row.tokens_in_10_ms));
    return { rounds, rows, longest };
  } finally {
    for (const server of servers) await server.stop();
    await fake.close();
  }
}

/** The bench's figures as markdown: the table and the longest answer within 10 ms per relay. */
export function streamCpuReport(result: StreamCpuResults): string {
  return [
    "| delivery | relay | CPU ms per stream (median) | × native | each round |",
    "| --- | --- | --- | --- | --- |",
    ...result.rows.map((row) => `| ${row.delivery} | ${row.relay} | ${row.cpu_ms} | ${row.x_native} | ${row.all_ms.join(", ")} |`),
    "",
    ...result.longest.map((l) => `Longest answer that fits 10 ms of CPU, in tokens, with stream_relay = "${l.relay}": ${l.tokens_in_10_ms} (fixed ${l.fixed_ms} ms a request + ${l.per_token_us} µs a token at one frame per write; ${l.x_native_one_frame_per_write}× native).`),
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseCommandLine({
    name: "bench:stream-cpu",
    usage: USAGE,
    options: { before: { type: "string" }, quick: { type: "boolean", default: false }, rounds: { type: "string" }, only: { type: "string" } },
  });
  const result = await benchStreamCpu({ quick: values.quick, ...(values.before && { before: values.before }), ...(values.rounds && { rounds: Number(values.rounds) }), ...(values.only && { only: values.only }) });
  console.log(streamCpuReport(result));
  console.log(JSON.stringify(result));
}
