// Runs the sidecar CLI as a process with the tiny model and a token, for end-to-end tests and
// benchmarks.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTinyLlamaGguf, type TinyLlamaOptions } from "../../scripts/gguf/tiny-llama.ts";
import { startProcess, type Running } from "../../scripts/processes.ts";

const root = new URL("../../", import.meta.url).pathname;

export interface SidecarProcess extends Running {
  token: string;
  modelPath: string;
  logFile: string;
}

export async function startSidecarProcess(options: { parallel?: number; args?: string[]; modelPath?: string; model?: TinyLlamaOptions } = {}): Promise<SidecarProcess> {
  const dir = await mkdtemp(join(tmpdir(), "inferrouter-e2e-sidecar-"));
  const modelPath = options.modelPath ?? join(dir, "tiny.gguf");
  if (!options.modelPath) await writeTinyLlamaGguf(modelPath, options.model);
  const token = `sidecar-${Math.random().toString(36).slice(2)}`;
  await mkdir(join(dir, "secrets"));
  await writeFile(join(dir, "secrets", "SIDECAR_TOKEN"), `${token}\n`);
  const logFile = join(dir, "sidecar.jsonl");
  const args = [
    join(root, "sidecar/main.ts"),
    "--model", modelPath,
    "--port", "0",
    "--parallel", String(options.parallel ?? 1),
    "--secrets-dir", join(dir, "secrets"),
    "--log-file", logFile,
    ...(options.args ?? []),
  ];
  const running = await startProcess(process.execPath, args, { ready: /listening on (http:\/\/\S+)/, timeoutMs: 60_000, cwd: root });
  return { ...running, token, modelPath, logFile };
}
