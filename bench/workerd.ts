// The production runtime's figures: the pass-through floor Worker and InferRouter, each bundled as
// `wrangler deploy` would and run by plain `workerd serve` (as `npm run serve` does), measured in
// interleaved rounds so that drift on a shared machine hits both alike. InferRouter's own cost is
// its p50 minus the floor's. CPU per request is the workerd process's CPU time (/proc/<pid>/stat
// utime + stime) over a counted run, divided by the requests.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { workerdConfig } from "../scripts/serve/workerd-config.ts";
import { startWorkerd, type WorkerdProcess } from "../scripts/serve/workerd-process.ts";
import { bundleWorker } from "../scripts/serve/worker-project.ts";
import { startFakeProvider, type FakeProvider } from "../test/support/fake-provider.ts";
import { benchRouterConfig, KEY, post, script } from "./edge.ts";
import { collect, peakMemoryMiB, summarize, timeRequest, type Sample, type Summary } from "./load.ts";

const root = new URL("../", import.meta.url).pathname;
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
const round3 = (value: number) => Math.round(value * 1000) / 1000;

export interface WorkerdResults {
  rounds: number;
  cases: Record<string, Summary>;
  own_cost: Array<{ metric: string; floor_p50_ms: number; inferrouter_p50_ms: number; own_ms: number; target_ms: number }>;
  failover: Array<{ fault: string; failed_attempt_p50_ms: number; b_alone_p50_ms: number; with_failover_p50_ms: number; extra_ms: number; over_failed_attempt_ms: number }>;
  tracker: { no_call_p50_ms: number; one_call_p50_ms: number; call_ms: number; target_ms: number };
  cpu: Array<{ case: string; requests: number; floor_ms: number | null; inferrouter_ms: number; target_ms: number | null }>;
  memory_mib: Record<string, Record<string, number>>;
}

/** A Worker (its wrangler.toml) bundled and served by plain workerd on a free port. */
export async function serveWorker(wranglerToml: string, vars: Record<string, unknown>, stateful: boolean) {
  const dir = mkdtempSync(join(tmpdir(), "inferrouter-bench-workerd-"));
  const worker = bundleWorker(wranglerToml, dir);
  worker.vars = { ...worker.vars, ...vars };
  const configPath = join(dir, "config.capnp");
  if (stateful) mkdirSync(join(dir, "state"));
  writeFileSync(configPath, workerdConfig({ worker, address: "127.0.0.1:0", ...(stateful ? { stateDir: join(dir, "state") } : {}) }));
  let lines = 0;
  const running = await startWorkerd({ configPath, address: "127.0.0.1:0", onConsole: (line) => { lines++; if (process.env.BENCH_WORKERD_LOG) console.error(line); } });
  return {
    url: `http://127.0.0.1:${running.port}`,
    running,
    lines: () => lines,
    stop: async () => {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** utime + stime of a process, all threads, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

export async function cpuPerRequest(process: WorkerdProcess, send: () => Promise<Sample>, requests: number): Promise<number> {
  await collect(send, Math.min(20, Math.ceil(requests / 4)));
  const before = cpuMs(process.pid);
  const { samples } = await collect(send, requests);
  if (samples.some((s) => !s.ok)) throw new Error("a request in a CPU run failed");
  return round3((cpuMs(process.pid) - before) / requests);
}

/** A 1,000-chunk stream: role, 997 content chunks, finish, usage (what InferRouter asks for). */
export function longStream() {
  const base = { id: "chatcmpl-long", object: "chat.completion.chunk", created: 1_700_000_000, model: "bench-model" };
  return [
    { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }], usage: null },
    ...Array.from({ length: 997 }, (_, i) => ({ ...base, choices: [{ index: 0, delta: { content: `w${i} ` }, finish_reason: null }], usage: null })),
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: null },
    { ...base, choices: [], usage: { prompt_tokens: 7, completion_tokens: 998, total_tokens: 1005 } },
  ];
}

export async function benchWorkerd(options: { quick?: boolean; log?: (line: string) => void } = {}): Promise<WorkerdResults> {
  const log = options.log ?? ((line: string) => console.error(line));
  const rounds = options.quick ? 2 : 5;
  const perRound = options.quick ? 40 : 120;
  const fake: FakeProvider = await startFakeProvider();
  const config = await benchRouterConfig(fake);
  // The same 1,000 chunks two ways: written one by one (each reaches workerd as its own read, as
  // tokens do from a real model), and written at once (a few large reads).
  await script(fake, "long", [{ type: "sse", events: longStream() }]);
  const burstBody = `${longStream().map((event) => `data: ${JSON.stringify(event)}\n\n`).join("")}data: [DONE]\n\n`;
  await script(fake, "burst", [{ type: "raw", status: 200, body: burstBody, headers: { "content-type": "text/event-stream" } }]);
  let edge: Awaited<ReturnType<typeof serveWorker>> | undefined;
  let floor: Awaited<ReturnType<typeof serveWorker>> | undefined;
  try {
    edge = await serveWorker(join(root, "wrangler.toml"), { ROUTER_CONFIG: config, PROXY_API_KEYS: KEY, BENCH_KEY: "sk-bench-upstream" }, true);
    // The floor forwards /v1/<id>/v1/... to the fake provider's /s/<id>/v1/...
    floor = await serveWorker(join(root, "bench/floor.wrangler.toml"), { UPSTREAM: `${fake.url}/s` }, false);
    const ir = (route: string, stream = false) => post(`${edge!.url}/v1/chat/completions`, route, stream);
    const fl = (id: string, stream = false) => post(`${floor!.url}/v1/${id}/v1/chat/completions`, "bench-model", stream, false);
    const refused = async (): Promise<Sample> => {
      const start = performance.now();
      await fetch(`http://127.0.0.1:${fake.closedPort}/v1/chat/completions`, { method: "POST", body: "{}" }).catch(() => undefined);
      return { totalMs: performance.now() - start, ttfbMs: 0, ok: true };
    };
    const cases: Record<string, { send: () => Promise<Sample>; share: number }> = {
      "floor json": { send: fl("p"), share: 1 },
      "inferrouter json": { send: ir("direct"), share: 1 },
      "floor stream": { send: fl("p", true), share: 1 },
      "inferrouter stream": { send: ir("direct", true), share: 1 },
      "inferrouter tracker call": { send: ir("limited"), share: 1 },
      "failed alone 429": { send: post(`${fake.url}/s/a429/v1/chat/completions`, "m", false, false), share: 0.5 },
      "failed alone 500": { send: post(`${fake.url}/s/a500/v1/chat/completions`, "m", false, false), share: 0.5 },
      "failed alone connection refused": { send: refused, share: 0.5 },
      "failover 429": { send: ir("f429"), share: 1 },
      "failover 500": { send: ir("f500"), share: 1 },
      "failover connection refused": { send: ir("frefused"), share: 1 },
      "failover timeout (100 ms)": { send: ir("ftimeout"), share: 0.1 },
    };
    const samples = new Map<string, Sample[]>(Object.keys(cases).map((name) => [name, []]));
    const elapsed = new Map<string, number>();
    for (const [, c] of Object.entries(cases)) await collect(c.send, 5);
    const names = Object.keys(cases);
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round so no case always runs first.
      for (const name of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
        const run = await collect(cases[name]!.send, Math.max(4, Math.round(perRound * cases[name]!.share)));
        samples.get(name)!.push(...run.samples);
        elapsed.set(name, (elapsed.get(name) ?? 0) + run.elapsedMs);
      }
      log(`workerd round ${r + 1}/${rounds} done`);
    }
    const summary: Record<string, Summary> = {};
    for (const [name, list] of samples) summary[name] = summarize(list, 1, elapsed.get(name)!);
    for (const [name, s] of Object.entries(summary)) if (s.errors && !name.startsWith("failed alone")) throw new Error(`${name}: ${s.errors} failed requests`);

    const own = (metric: string, floorP50: number, irP50: number, target: number) => ({ metric, floor_p50_ms: floorP50, inferrouter_p50_ms: irP50, own_ms: round3(irP50 - floorP50), target_ms: target });
    const own_cost = [
      own("JSON", summary["floor json"]!.p50_ms, summary["inferrouter json"]!.p50_ms, 0.3),
      own("stream first byte", summary["floor stream"]!.ttfb_p50_ms, summary["inferrouter stream"]!.ttfb_p50_ms, 0.3),
      own("stream end", summary["floor stream"]!.p50_ms, summary["inferrouter stream"]!.p50_ms, 0.3),
    ];
    const bAlone = summary["inferrouter json"]!.p50_ms;
    const failover = ["429", "500", "connection refused", "timeout (100 ms)"].map((fault) => {
      // A timeout's failed attempt is the timeout itself.
      const failed = fault.startsWith("timeout") ? 100 : summary[`failed alone ${fault}`]!.p50_ms;
      const withFailover = summary[`failover ${fault}`]!.p50_ms;
      return { fault, failed_attempt_p50_ms: failed, b_alone_p50_ms: bAlone, with_failover_p50_ms: withFailover, extra_ms: round3(withFailover - bAlone), over_failed_attempt_ms: round3(withFailover - bAlone - failed) };
    });
    const tracker = { no_call_p50_ms: bAlone, one_call_p50_ms: summary["inferrouter tracker call"]!.p50_ms, call_ms: round3(summary["inferrouter tracker call"]!.p50_ms - bAlone), target_ms: 0.4 };

    // Counts sized so each run spans many clock ticks (CLK_TCK is usually 100 a second).
    const cpuRuns = options.quick ? { json: 200, long: 10, burst: 30, failover: 200 } : { json: 800, long: 40, burst: 300, failover: 600 };
    const longFloor = (id: string) => () =>
      timeRequest(`${floor!.url}/v1/${id}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "m", stream: true, stream_options: { include_usage: true }, messages: [] }) });
    const cpu = [
      { case: "JSON request", requests: cpuRuns.json, floor_ms: await cpuPerRequest(floor.running, fl("p"), cpuRuns.json), inferrouter_ms: await cpuPerRequest(edge.running, ir("direct"), cpuRuns.json), target_ms: 1 },
      { case: "1,000-chunk stream, one read per chunk", requests: cpuRuns.long, floor_ms: await cpuPerRequest(floor.running, longFloor("long"), cpuRuns.long), inferrouter_ms: await cpuPerRequest(edge.running, ir("long", true), cpuRuns.long), target_ms: 2 },
      { case: "1,000-chunk stream, written at once", requests: cpuRuns.burst, floor_ms: await cpuPerRequest(floor.running, longFloor("burst"), cpuRuns.burst), inferrouter_ms: await cpuPerRequest(edge.running, ir("burst", true), cpuRuns.burst), target_ms: 2 },
      { case: "failover (500, then answer)", requests: cpuRuns.failover, floor_ms: null, inferrouter_ms: await cpuPerRequest(edge.running, ir("f500"), cpuRuns.failover), target_ms: null },
    ];
    for (const row of cpu) log(`workerd cpu ${row.case}: floor ${row.floor_ms} ms, inferrouter ${row.inferrouter_ms} ms per request`);
    const memory_mib = { workerd_inferrouter: await peakMemoryMiB(edge.running.pid), workerd_floor: await peakMemoryMiB(floor.running.pid) };
    return { rounds, cases: summary, own_cost, failover, tracker, cpu, memory_mib };
  } finally {
    await edge?.stop();
    await floor?.stop();
    await fake.close();
  }
}

if (import.meta.main) console.log(JSON.stringify(await benchWorkerd({ quick: process.argv.includes("--quick") }), null, 2));
