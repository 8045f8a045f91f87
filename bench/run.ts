// npm run bench [-- --quick] [-- --workerd-only]: every benchmark in one run on loopback; prints
// markdown tables and writes bench/results.json. Never part of npm test: figures are reported, not
// asserted. The production runtime's figures (plain workerd) come first; the wrangler dev rows are
// the local dev loop's cost, kept for comparison.
import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { parseCommandLine } from "../shared/cli.ts";
import { benchEdge, type EdgeResults } from "./edge.ts";
import { runSidecarBench } from "./sidecar.ts";
import { benchSize } from "./size.ts";
import { benchStreamCpu, streamCpuReport, type StreamCpuResults } from "./stream-cpu.ts";
import { benchThroughEdge } from "./through-edge.ts";
import { benchWorkerd, type WorkerdResults } from "./workerd.ts";

const USAGE = `usage: npm run bench [-- --quick] [-- --workerd-only] [-- --out FILE]
  --quick          fewer requests per figure
  --workerd-only   only the plain-workerd figures (no wrangler dev rows)
  --out FILE       where the JSON results go (default bench/results.json)`;
const { values } = parseCommandLine({
  name: "bench",
  usage: USAGE,
  options: { quick: { type: "boolean", default: false }, "workerd-only": { type: "boolean", default: false }, out: { type: "string", default: "bench/results.json" } },
});

function table(headers: string[], rows: Array<Array<string | number>>): string {
  return [`| ${headers.join(" | ")} |`, `| ${headers.map(() => "---").join(" | ")} |`, ...rows.map((row) => `| ${row.join(" | ")} |`)].join("\n");
}

/** InferRouter's own cost: its time minus the floor Worker's, same mode and concurrency. */
function ownCost(edge: EdgeResults) {
  return edge.overhead
    .filter((row) => row.path === "inferrouter")
    .map((row) => {
      const floor = edge.overhead.find((f) => f.path === "floor" && f.mode === row.mode && f.summary.concurrency === row.summary.concurrency)!;
      return {
        mode: row.mode,
        concurrency: row.summary.concurrency,
        p50_ms: Math.round((row.summary.p50_ms - floor.summary.p50_ms) * 1000) / 1000,
        ttfb_p50_ms: Math.round((row.summary.ttfb_p50_ms - floor.summary.ttfb_p50_ms) * 1000) / 1000,
      };
    });
}

const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const started = new Date().toISOString();
console.error(`bench on ${machine}${values.quick ? " (quick)" : ""}`);

/** The production runtime's tables: own cost, failover, tracker call, CPU per request. */
function workerdReport(w: WorkerdResults): string {
  const ok = (value: number, target: number | null) => (target === null ? "" : value <= target ? "met" : "missed");
  return [
    `Production runtime: the pass-through floor Worker and InferRouter, bundled by \`wrangler deploy --dry-run\` and run by plain \`workerd serve\` (as \`npm run serve\` runs them), ${w.rounds} interleaved rounds, concurrency 1, loopback. Own cost = InferRouter p50 − floor p50:`,
    "",
    table(["metric", "floor p50 ms", "InferRouter p50 ms", "own cost ms", "target ms", ""], w.own_cost.map((o) => [o.metric, o.floor_p50_ms, o.inferrouter_p50_ms, o.own_ms, `< ${o.target_ms}`, ok(o.own_ms, o.target_ms)])),
    "",
    `Tracker call (one admit to the provider's QuotaTracker): ${w.tracker.one_call_p50_ms} ms p50 with limits vs ${w.tracker.no_call_p50_ms} ms without, so ${w.tracker.call_ms} ms a call (target < ${w.tracker.target_ms} ms: ${ok(w.tracker.call_ms, w.tracker.target_ms)}).`,
    "",
    "Failover under workerd: provider A fails, B answers; target: extra over B alone no more than the failed attempt itself + 0.5 ms:",
    "",
    table(
      ["fault", "failed attempt alone p50 ms", "B alone p50 ms", "A then B p50 ms", "extra ms", "extra − failed attempt ms", ""],
      w.failover.map((f) => [f.fault, f.failed_attempt_p50_ms, f.b_alone_p50_ms, f.with_failover_p50_ms, f.extra_ms, f.over_failed_attempt_ms, ok(f.over_failed_attempt_ms, 0.5)]),
    ),
    "",
    "CPU time per request: the workerd process's utime + stime (/proc/<pid>/stat) over a counted run, divided by its requests (the Workers free plan allows 10 ms a request):",
    "",
    table(["request", "requests", "floor ms", "InferRouter ms", "target ms", ""], w.cpu.map((c) => [c.case, c.requests, c.floor_ms ?? "–", c.inferrouter_ms, c.target_ms === null ? "–" : `< ${c.target_ms}`, ok(c.inferrouter_ms, c.target_ms)])),
    "",
    table(["case (workerd)", "p50 ms", "p99 ms", "TTFB p50 ms", "requests"], Object.entries(w.cases).map(([name, s]) => [name, s.p50_ms, s.p99_ms, s.ttfb_p50_ms, s.requests])),
    "",
    `Peak memory under workerd (MiB, VmHWM): ${JSON.stringify(w.memory_mib)}`,
  ].join("\n");
}

const size = benchSize();
const workerd = await benchWorkerd({ quick: values.quick });
// CPU per 1,000-frame stream in both delivery modes, the native pass-through and the minimal JS pump
// measured in the same rounds (bench/stream-cpu.ts), and the longest answer within 10 ms of CPU.
const streamCpu = await benchStreamCpu({ quick: values.quick });
const streamCpuSection = (result: StreamCpuResults) =>
  [`CPU per 1,000-frame stream by relay (bench/stream-cpu.ts; plain workerd, process CPU, median of ${result.rounds} round(s); targets: one frame per write ≤ 2× native, all at once ≤ 2 ms):`, "", streamCpuReport(result)].join("\n");
if (values["workerd-only"]) {
  const report = [`Machine: ${machine}; ${started}${values.quick ? " (quick run)" : ""}.`, "", workerdReport(workerd), "", streamCpuSection(streamCpu), "", `Worker bundle: ${size.bundle_kib} KiB, ${size.bundle_gzip_kib} KiB gzip; largest parts (KiB): ${JSON.stringify(size.largest_inputs_kib)}.`].join("\n");
  console.log(report);
  writeFileSync(values.out, `${JSON.stringify({ machine, started, quick: values.quick, size, workerd, stream_cpu: streamCpu }, null, 2)}\n`);
  console.error(`wrote ${values.out}`);
  process.exit(0);
}
const edge = await benchEdge({ quick: values.quick });
const own = ownCost(edge);
const sidecar = await runSidecarBench({ requests: values.quick ? 4 : 8 });
const throughEdge = await benchThroughEdge({
  requests: values.quick ? 4 : 8,
  maxTokens: sidecar.max_tokens,
  threads: sidecar.threads,
  contextSize: sidecar.context_size,
  parallel: [1, 2],
});
const sidecarRows = [...sidecar.rows, ...throughEdge.rows];
const directTps = (parallel: number) => sidecar.rows.find((r) => r.via === "direct" && r.parallel === parallel)!.tokens_per_second;

const report = [
  `Machine: ${machine}; ${started}${values.quick ? " (quick run)" : ""}.`,
  "",
  workerdReport(workerd),
  "",
  streamCpuSection(streamCpu),
  "",
  "Local dev loop (`wrangler dev`, not the production runtime: its dev proxy adds its own cost to every request and log line): the same scripted provider called directly, through the pass-through floor and through InferRouter.",
  "",
  table(
    ["path", "mode", "concurrency", "p50 ms", "p99 ms", "TTFB p50 ms", "TTFB p99 ms", "req/s"],
    edge.overhead.map(({ path, mode, summary: s }) => [path, mode, s.concurrency, s.p50_ms, s.p99_ms, s.ttfb_p50_ms, s.ttfb_p99_ms, s.rps]),
  ),
  "",
  "Local dev loop: InferRouter's own cost under wrangler dev (its p50 minus the floor's):",
  "",
  table(["mode", "concurrency", "own p50 ms", "own TTFB p50 ms"], own.map((o) => [o.mode, o.concurrency, o.p50_ms, o.ttfb_p50_ms])),
  "",
  "Local dev loop: failover under wrangler dev, the extra time over B alone:",
  "",
  table(
    ["fault", "failed attempt alone p50 ms", "B alone p50 ms", "A then B p50 ms", "extra ms", "extra − failed attempt ms"],
    edge.failover.map((f) => [f.fault, f.failed_attempt_p50_ms, f.b_alone_p50_ms, f.with_failover_p50_ms, f.extra_ms, f.over_failed_attempt_ms]),
  ),
  "",
  "Local dev loop: quota tracking cost under wrangler dev (JSON, concurrency 1):",
  "",
  table(["case", "p50 ms", "p99 ms", "req/s"], edge.quota.map((q) => [q.case, q.summary.p50_ms, q.summary.p99_ms, q.summary.rps])),
  "",
  `Sidecar throughput (${sidecar.model}, ${sidecar.threads} thread(s), context ${sidecar.context_size}, ${sidecar.max_tokens} tokens per request, greedy); target: the sidecar keeps >= 95% of direct node-llama-cpp:`,
  "",
  table(
    ["path", "parallel", "requests", "tokens", "seconds", "tokens/s", "% of direct"],
    sidecarRows.map((r) => [
      r.via === "direct" ? "node-llama-cpp direct" : r.via === "sidecar" ? "sidecar HTTP" : "edge -> sidecar",
      r.parallel, r.requests, r.completion_tokens, r.seconds, r.tokens_per_second,
      Math.round((r.tokens_per_second / directTps(r.parallel)) * 1000) / 10,
    ]),
  ),
  "",
  `Worker bundle: ${size.bundle_kib} KiB, ${size.bundle_gzip_kib} KiB gzip (target < 100 KiB gzip); start-up CPU (wrangler check startup): ${size.startup_cpu_ms} ms; largest parts (KiB of output): ${JSON.stringify(size.largest_inputs_kib)}.`,
  `Peak memory (MiB, VmHWM per process): ${JSON.stringify({ ...edge.memory_mib, ...throughEdge.memory_mib })}`,
].join("\n");

console.log(report);
writeFileSync(values.out, `${JSON.stringify({ machine, started, quick: values.quick, size, workerd, stream_cpu: streamCpu, edge, own_cost: own, sidecar, through_edge: throughEdge }, null, 2)}\n`);
console.error(`wrote ${values.out}`);
