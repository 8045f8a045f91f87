// CLI: `npm run sidecar -- --model PATH_OR_URI [...]`, also the `inferrouter-sidecar` bin.
// Human-readable lines (progress, the ready line, errors) go to stderr; stdout carries only the
// JSONL operation log when no --log-file is given.
import { exitWith, parseCommandLine } from "../shared/cli.ts";
import { DEFAULT_DOWNLOAD_STALL_MS, StartupError, type GpuOption } from "./model.ts";
import { DEFAULTS, defaultThreads, startSidecar, type Sidecar, type SidecarOptions } from "./sidecar.ts";

const USAGE = `usage: inferrouter-sidecar --model PATH_OR_URI [options]
  --model PATH_OR_URI      local .gguf file or hf:user/repo/file.gguf
  --embedding-model PATH   GGUF for /v1/embeddings (may be the same file as --model; default: none)
  --host HOST              bind address (default ${DEFAULTS.host})
  --port N                 port, 0 for any free one (default ${DEFAULTS.port})
  --parallel N             generations at once (default ${DEFAULTS.parallel})
  --max-queue N            requests waiting beyond those; more get 503 (default ${DEFAULTS.maxQueue})
  --context-size N         tokens per sequence (default: sized by node-llama-cpp)
  --threads N              CPU threads (default ${defaultThreads()}: half the logical CPUs)
  --secrets-dir DIR        holds the bearer token file SIDECAR_TOKEN (default ${DEFAULTS.secretsDir})
  --insecure-no-auth       serve without a bearer token (local testing only)
  --log-file PATH          JSONL operation log (default stdout)
  --gpu auto|cuda|vulkan|metal|false   (default false)
  --model-id NAME          model id clients see (default: the file name)
  --grace-ms N             SIGTERM: wait this long for running work (default ${DEFAULTS.graceMs})
  --download-stall-ms N    an hf: download with no progress this long fails as offline (default ${DEFAULT_DOWNLOAD_STALL_MS})`;

class UsageError extends Error {}

function integer(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

function gpu(value: string | undefined): GpuOption {
  if (value === undefined || value === "false") return false;
  if (value === "auto" || value === "cuda" || value === "vulkan" || value === "metal") return value;
  throw new UsageError(`--gpu must be auto, cuda, vulkan, metal or false, got "${value}"`);
}

function parseCli(argv: string[]): SidecarOptions {
  const { values } = parseCommandLine({
    name: "inferrouter-sidecar",
    usage: USAGE,
    args: argv,
    options: {
      model: { type: "string" },
      "embedding-model": { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
      parallel: { type: "string" },
      "max-queue": { type: "string" },
      "context-size": { type: "string" },
      threads: { type: "string" },
      "secrets-dir": { type: "string" },
      "insecure-no-auth": { type: "boolean" },
      "log-file": { type: "string" },
      gpu: { type: "string" },
      "model-id": { type: "string" },
      "grace-ms": { type: "string" },
      "download-stall-ms": { type: "string" },
    },
  });
  if (!values.model) throw new UsageError("--model is required");
  return {
    model: values.model,
    embeddingModel: values["embedding-model"],
    host: values.host,
    port: integer("port", values.port, 0),
    parallel: integer("parallel", values.parallel, 1),
    maxQueue: integer("max-queue", values["max-queue"], 0),
    contextSize: integer("context-size", values["context-size"], 16),
    threads: integer("threads", values.threads, 1),
    secretsDir: values["secrets-dir"],
    insecureNoAuth: values["insecure-no-auth"],
    logFile: values["log-file"],
    gpu: gpu(values.gpu),
    modelId: values["model-id"],
    graceMs: integer("grace-ms", values["grace-ms"], 0),
    downloadStallMs: integer("download-stall-ms", values["download-stall-ms"], 1),
  };
}

async function main(): Promise<void> {
  let options: SidecarOptions;
  try {
    options = parseCli(process.argv.slice(2));
  } catch (error) {
    console.error(`inferrouter-sidecar: ${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    process.exit(2);
  }
  // Signals first: a SIGTERM while the model loads (docker stop during a long load) exits 0 too.
  let sidecar: Sidecar | undefined;
  const stop = (signal: string) => {
    console.error(`inferrouter-sidecar: ${signal}, stopping`);
    if (!sidecar) process.exit(0);
    sidecar.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`inferrouter-sidecar: error while stopping: ${error instanceof Error ? error.message : error}`);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));

  let lastShown = -1;
  sidecar = await startSidecar({
    ...options,
    showProgress: true,
    onLoadProgress: (progress) => {
      const percent = Math.floor(progress * 100);
      if (percent >= lastShown + 10 || percent === 100) {
        lastShown = percent;
        process.stderr.write(`loading model ${percent}%\n`);
      }
    },
  });
  console.error(`inferrouter-sidecar listening on ${sidecar.url}`);
}

main().catch((error: unknown) => {
  // Known start-up failures are one clear line; anything else is a bug worth its stack.
  if (error instanceof StartupError) console.error(`inferrouter-sidecar: ${error.message}`);
  else {
    try {
      exitWith("inferrouter-sidecar", error); // a port in use, a missing file: one line
    } catch {
      console.error("inferrouter-sidecar: unexpected error", error);
    }
  }
  process.exit(1);
});
