// Tokens per second through the whole path, client -> wrangler dev (InferRouter) -> sidecar
// process, with the same model and settings as bench/sidecar.ts; and each process's peak memory.
import { startSidecarProcess } from "../test/support/sidecar-process.ts";
import { startWranglerDev } from "../test/support/wrangler-dev.ts";
import { peakMemoryMiB } from "./load.ts";
import { PROMPT, row, timed, type SidecarBenchRow } from "./sidecar.ts";

export interface EdgeSidecarResult {
  rows: SidecarBenchRow[];
  memory_mib: Record<string, Record<string, number>>;
}

export async function benchThroughEdge(options: { requests: number; maxTokens: number; threads: number; contextSize: number; parallel: readonly number[] }): Promise<EdgeSidecarResult> {
  const result: EdgeSidecarResult = { rows: [], memory_mib: {} };
  for (const parallel of options.parallel) {
    const sidecar = await startSidecarProcess({ parallel, args: ["--threads", String(options.threads), "--context-size", String(options.contextSize)] });
    const config = {
      routes: { local: ["local"] },
      providers: { local: { type: "local_gguf", base_url: `${sidecar.url}/v1`, model: "tiny", api_key_secret: "SIDECAR_TOKEN" } },
    };
    const edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: "sk-bench", SIDECAR_TOKEN: sidecar.token } }).catch(async (error) => {
      await sidecar.stop();
      throw error;
    });
    try {
      const run = await timed(options.requests, parallel, async () => {
        const response = await fetch(`${edge.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer sk-bench" },
          body: JSON.stringify({ model: "local", messages: [{ role: "user", content: PROMPT }], max_tokens: options.maxTokens, temperature: 0 }),
        });
        if (!response.ok) throw new Error(`edge answered ${response.status}: ${await response.text()}`);
        return ((await response.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens;
      });
      result.rows.push(row("edge", parallel, options.requests, run));
      result.memory_mib[`sidecar_parallel_${parallel}`] = await peakMemoryMiB(sidecar.child.pid!);
      result.memory_mib[`wrangler_dev_parallel_${parallel}`] = await peakMemoryMiB(edge.child.pid!);
    } finally {
      await edge.stop();
      await sidecar.stop();
    }
  }
  return result;
}
