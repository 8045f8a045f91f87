// Shared test setup: a tiny model and token in a temp dir, an in-process sidecar on a free port,
// and a bounded poll for conditions that become true asynchronously.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { vi } from "vitest";
import { InferEventSchema, type InferEvent } from "../../shared/events.ts";
import { startSidecar, type Sidecar, type SidecarOptions } from "../../sidecar/sidecar.ts";
import { TOKEN_FILE_NAME } from "../../sidecar/secrets.ts";
import { writeTinyLlamaGguf } from "../../scripts/gguf/tiny-llama.ts";

export interface Workspace {
  dir: string;
  modelPath: string;
  secretsDir: string;
  logFile: string;
  token: string;
  setToken(token: string): Promise<void>;
  events(): Promise<InferEvent[]>;
  cleanup(): Promise<void>;
}

export async function createWorkspace(): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), "inferrouter-sidecar-"));
  const modelPath = join(dir, "tiny.gguf");
  await writeTinyLlamaGguf(modelPath);
  const secretsDir = join(dir, "secrets");
  const workspace: Workspace = {
    dir,
    modelPath,
    secretsDir,
    logFile: join(dir, "logs", "sidecar.jsonl"),
    token: "sk-sidecar-test-1",
    async setToken(token) {
      await writeFile(join(secretsDir, TOKEN_FILE_NAME), `${token}\n`);
      workspace.token = token;
    },
    async events() {
      const text = await readFile(workspace.logFile, "utf8").catch(() => "");
      return text
        .split("\n")
        .filter((line) => line.includes('"event"'))
        .map((line) => InferEventSchema.parse(JSON.parse(line)));
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  await mkdir(secretsDir);
  await workspace.setToken(workspace.token);
  return workspace;
}

export function startTestSidecar(workspace: Workspace, options: Partial<SidecarOptions> = {}): Promise<Sidecar> {
  return startSidecar({
    model: workspace.modelPath,
    port: 0,
    secretsDir: workspace.secretsDir,
    logFile: workspace.logFile,
    threads: 1,
    contextSize: 4096,
    ...options,
  });
}

export function client(sidecar: Sidecar, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: `${sidecar.url}/v1`, apiKey, maxRetries: 0, timeout: 30_000 });
}

/** vitest's waitFor for a check that answers false/undefined until its condition holds. */
export function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await check();
      if (value === undefined || value === false) throw new Error(`still waiting for ${what}`);
      return value;
    },
    { timeout: timeoutMs, interval: 25 },
  );
}

export interface Health {
  busy: number;
  queued: number;
  parallel: number;
  context_size: number;
  model: string;
  max_queue: number;
}

export async function health(sidecar: Sidecar, token: string): Promise<Health> {
  const response = await fetch(`${sidecar.url}/health`, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`health answered ${response.status}`);
  return (await response.json()) as Health;
}

/**
 * Starts a streamed request that runs until aborted (greedy decoding never picks the tiny model's
 * end token) and resolves once its first chunk arrived, i.e. once it holds a slot.
 */
export async function startLongStream(sidecar: Sidecar, token: string, requestId: string) {
  const controller = new AbortController();
  const response = await fetch(`${sidecar.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "x-request-id": requestId },
    body: JSON.stringify({ model: "local", messages: [{ role: "user", content: "go on forever" }], temperature: 0, stream: true }),
    signal: controller.signal,
  });
  if (response.status !== 200 || !response.body) throw new Error(`long stream answered ${response.status}`);
  const reader = response.body.getReader();
  const first = await reader.read();
  if (first.done) throw new Error("long stream ended at once");
  return {
    abort: () => {
      controller.abort();
      reader.cancel().catch(() => undefined);
    },
  };
}
