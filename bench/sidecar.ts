// Tokens per second of node-llama-cpp called directly versus through the sidecar's HTTP API, on
// the same model and settings, with 1 and 2 parallel sequences. Not a test: prints a table and can
// write JSON. `node bench/sidecar.ts [--model PATH] [--requests N] [--max-tokens N] [--threads N] [--json PATH]`
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getLlama, LlamaChat, type ChatHistoryItem } from "node-llama-cpp";
import { defaultThreads, startSidecar } from "../sidecar/sidecar.ts";
import { writeTinyLlamaGguf } from "../scripts/gguf/tiny-llama.ts";

export interface SidecarBenchOptions {
  /** A .gguf path; the tiny test model is written to a temp dir when absent. */
  model?: string;
  /** Requests per run, spread over the parallel workers. */
  requests?: number;
  maxTokens?: number;
  threads?: number;
  contextSize?: number;
  parallel?: readonly number[];
}

export interface SidecarBenchRow {
  via: "direct" | "sidecar" | "edge";
  parallel: number;
  requests: number;
  completion_tokens: number;
  seconds: number;
  tokens_per_second: number;
}

export interface SidecarBenchResult {
  bench: "sidecar";
  model: string;
  threads: number;
  context_size: number;
  max_tokens: number;
  rows: SidecarBenchRow[];
}

export const PROMPT = "Write a long story about a lighthouse.";

/** Runs `requests` jobs on `parallel` workers; returns tokens generated and wall time. */
export async function timed(requests: number, parallel: number, job: (worker: number) => Promise<number>) {
  let next = 0;
  let tokens = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async (_, worker) => {
      while (next < requests) {
        next++;
        const generated = await job(worker); // not `tokens += await`: that would lose a worker's update
        tokens += generated;
      }
    }),
  );
  return { tokens, seconds: (performance.now() - start) / 1000 };
}

export function row(via: SidecarBenchRow["via"], parallel: number, requests: number, run: { tokens: number; seconds: number }): SidecarBenchRow {
  return {
    via,
    parallel,
    requests,
    completion_tokens: run.tokens,
    seconds: Math.round(run.seconds * 1000) / 1000,
    tokens_per_second: Math.round(run.tokens / run.seconds),
  };
}

async function benchDirect(model: string, parallel: number, o: Required<Omit<SidecarBenchOptions, "model" | "parallel">>) {
  const llama = await getLlama({ gpu: false, build: "never", maxThreads: o.threads });
  try {
    const loaded = await llama.loadModel({ modelPath: model });
    const context = await loaded.createContext({ sequences: parallel, contextSize: o.contextSize, threads: o.threads });
    const chats = Array.from({ length: parallel }, () => new LlamaChat({ contextSequence: context.getSequence() }));
    const history: ChatHistoryItem[] = [{ type: "user", text: PROMPT }, { type: "model", response: [] }];
    const run = await timed(o.requests, parallel, async (worker) => {
      const chat = chats[worker]!;
      const before = chat.sequence.tokenMeter.getState();
      await chat.generateResponse(history, { maxTokens: o.maxTokens, temperature: 0 });
      return chat.sequence.tokenMeter.diff(before).usedOutputTokens;
    });
    return row("direct", parallel, o.requests, run);
  } finally {
    await llama.dispose();
  }
}

async function benchSidecar(model: string, parallel: number, o: Required<Omit<SidecarBenchOptions, "model" | "parallel">>) {
  const sidecar = await startSidecar({
    model,
    port: 0,
    insecureNoAuth: true,
    parallel,
    threads: o.threads,
    contextSize: o.contextSize,
    logFile: join(tmpdir(), "inferrouter-bench-sidecar.jsonl"),
  });
  try {
    const run = await timed(o.requests, parallel, async () => {
      const response = await fetch(`${sidecar.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "bench", messages: [{ role: "user", content: PROMPT }], max_tokens: o.maxTokens, temperature: 0 }),
      });
      if (!response.ok) throw new Error(`sidecar answered ${response.status}: ${await response.text()}`);
      const body = (await response.json()) as { usage: { completion_tokens: number } };
      return body.usage.completion_tokens;
    });
    return row("sidecar", parallel, o.requests, run);
  } finally {
    await sidecar.close(1000);
  }
}

export async function runSidecarBench(options: SidecarBenchOptions = {}): Promise<SidecarBenchResult> {
  const settings = {
    requests: options.requests ?? 8,
    maxTokens: options.maxTokens ?? 256,
    threads: options.threads ?? defaultThreads(),
    contextSize: options.contextSize ?? 2048,
  };
  let tempDir: string | undefined;
  let model = options.model;
  if (!model) {
    tempDir = await mkdtemp(join(tmpdir(), "inferrouter-bench-"));
    model = join(tempDir, "tiny.gguf");
    await writeTinyLlamaGguf(model);
  }
  try {
    const rows: SidecarBenchRow[] = [];
    for (const parallel of options.parallel ?? [1, 2]) {
      rows.push(await benchDirect(model, parallel, settings));
      rows.push(await benchSidecar(model, parallel, settings));
    }
    return { bench: "sidecar", model: options.model ?? "tiny (generated)", threads: settings.threads, context_size: settings.contextSize, max_tokens: settings.maxTokens, rows };
  } finally {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}

export function formatSidecarBench(result: SidecarBenchResult): string {
  const header = `model ${result.model}, threads ${result.threads}, context ${result.context_size}, max_tokens ${result.max_tokens}, greedy`;
  const lines = result.rows.map(
    (r) => `${r.via.padEnd(8)} ${String(r.parallel).padStart(8)} ${String(r.requests).padStart(8)} ${String(r.completion_tokens).padStart(8)} ${r.seconds.toFixed(2).padStart(8)} ${String(r.tokens_per_second).padStart(8)}`,
  );
  return [header, `${"via".padEnd(8)} ${"parallel".padStart(8)} ${"requests".padStart(8)} ${"tokens".padStart(8)} ${"seconds".padStart(8)} ${"tok/s".padStart(8)}`, ...lines].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      model: { type: "string" },
      requests: { type: "string" },
      "max-tokens": { type: "string" },
      threads: { type: "string" },
      "context-size": { type: "string" },
      json: { type: "string" },
    },
  });
  const num = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  const result = await runSidecarBench({
    model: values.model,
    requests: num(values.requests),
    maxTokens: num(values["max-tokens"]),
    threads: num(values.threads),
    contextSize: num(values["context-size"]),
  });
  console.log(formatSidecarBench(result));
  if (values.json) await writeFile(values.json, `${JSON.stringify(result, null, 2)}\n`);
}
