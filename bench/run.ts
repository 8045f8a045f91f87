// npm run bench [-- --quick]: every benchmark in one run on loopback; prints markdown tables and
// writes bench/results.json. Never part of npm test: figures are reported, not asserted.
import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { benchEdge, type EdgeResults } from "./edge.ts";
import { runSidecarBench } from "./sidecar.ts";
import { benchSize } from "./size.ts";
import { benchThroughEdge } from "./through-edge.ts";

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, out: { type: "string", default: "bench/results.json" } } });

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

const size = benchSize();
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
  "Overhead: the same scripted provider called directly, through a pass-through Worker (floor) and through InferRouter, all under wrangler dev on loopback.",
  "",
  table(
    ["path", "mode", "concurrency", "p50 ms", "p99 ms", "TTFB p50 ms", "TTFB p99 ms", "req/s"],
    edge.overhead.map(({ path, mode, summary: s }) => [path, mode, s.concurrency, s.p50_ms, s.p99_ms, s.ttfb_p50_ms, s.ttfb_p99_ms, s.rps]),
  ),
  "",
  "InferRouter's own cost (its p50 minus the floor's); target < 0.5 ms for JSON and for a stream's first byte:",
  "",
  table(["mode", "concurrency", "own p50 ms", "own TTFB p50 ms"], own.map((o) => [o.mode, o.concurrency, o.p50_ms, o.ttfb_p50_ms])),
  "",
  "Failover: provider A fails, B answers; the extra time over B alone (target: no more than the failed attempt itself + 1 ms):",
  "",
  table(
    ["fault", "failed attempt alone p50 ms", "B alone p50 ms", "A then B p50 ms", "extra ms", "extra − failed attempt ms"],
    edge.failover.map((f) => [f.fault, f.failed_attempt_p50_ms, f.b_alone_p50_ms, f.with_failover_p50_ms, f.extra_ms, f.over_failed_attempt_ms]),
  ),
  "",
  "Quota tracking cost (JSON, concurrency 1):",
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
  `Worker bundle: ${size.bundle_kib} KiB, ${size.bundle_gzip_kib} KiB gzip; start-up CPU (wrangler check startup): ${size.startup_cpu_ms} ms.`,
  `Peak memory (MiB, VmHWM per process): ${JSON.stringify({ ...edge.memory_mib, ...throughEdge.memory_mib })}`,
].join("\n");

console.log(report);
writeFileSync(values.out, `${JSON.stringify({ machine, started, quick: values.quick, size, edge, own_cost: own, sidecar, through_edge: throughEdge }, null, 2)}\n`);
console.error(`wrote ${values.out}`);
