// Finds, checks and loads the GGUF model. Every failure becomes a `StartupError` with a message
// an operator can act on; main.ts prints it and exits non-zero instead of showing a stack trace.
import { lookup } from "node:dns/promises";
import { resolve } from "node:path";
import { getLlama, LlamaLogLevel, readGgufFileInfo, resolveModelFile, type Llama, type LlamaModel } from "node-llama-cpp";

export class StartupError extends Error {
  override readonly name = "StartupError";
}

export type GpuOption = "auto" | "cuda" | "vulkan" | "metal" | false;

export interface LoadModelOptions {
  /** A local .gguf path or an `hf:` / https URI. */
  model: string;
  gpu: GpuOption;
  threads: number;
  /** How long an hf: download may show no progress before it counts as offline. */
  downloadStallMs?: number;
  /** Show node-llama-cpp's download progress bar (the CLI does). */
  showProgress?: boolean;
  /** Loading progress from 0 to 1. */
  onProgress?: (progress: number) => void;
}

export interface LoadedModel {
  llama: Llama;
  model: LlamaModel;
  path: string;
}

const isRemote = (uri: string) => /^(hf:|huggingface:|https?:)/i.test(uri);

/** Offline, the resolver retries for minutes; give up when nothing has moved for this long. */
export const DEFAULT_DOWNLOAD_STALL_MS = 20_000;

/**
 * A local path as is; an `hf:` URI through node-llama-cpp's resolver (downloads, with a progress
 * bar when `showProgress`). Offline, the resolver retries for minutes and does not stop on an abort
 * signal while it gathers file information, so a watchdog gives up after `stallMs` without progress.
 */
export async function resolveModelPath(uri: string, { stallMs = DEFAULT_DOWNLOAD_STALL_MS, showProgress = false } = {}): Promise<string> {
  if (!isRemote(uri)) {
    try {
      // Relative local paths are relative to the working directory, not node-llama-cpp's models dir.
      return await resolveModelFile(resolve(uri), { download: false });
    } catch (error) {
      throw new StartupError(`model file not found: ${uri} (${error instanceof Error ? error.message : error})`);
    }
  }
  // No network at all (the host does not resolve): say so at once instead of waiting for the watchdog.
  const host = /^(hf|huggingface):/i.test(uri) ? "huggingface.co" : new URL(uri).hostname;
  try {
    await lookup(host);
  } catch (error) {
    throw new StartupError(
      `could not fetch model ${uri}: ${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? error}); this machine looks offline. Download the .gguf file elsewhere and pass its local path with --model.`,
    );
  }
  const stalled = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const watchdog = () => {
    clearTimeout(timer);
    timer = setTimeout(() => stalled.abort(new Error(`no download progress for ${stallMs / 1000} s`)), stallMs);
  };
  const gaveUp = new Promise<never>((_, reject) => stalled.signal.addEventListener("abort", () => reject(stalled.signal.reason)));
  // Progress as plain stderr lines, not node-llama-cpp's CLI spinner: offline its spinner never
  // stops (the resolver never settles) and it swallowed the one line that says what to do.
  let shown = -1;
  const onProgress = ({ totalSize, downloadedSize }: { totalSize: number; downloadedSize: number }) => {
    watchdog();
    const percent = totalSize > 0 ? Math.floor((downloadedSize / totalSize) * 100) : 0;
    if (showProgress && (percent >= shown + 10 || (percent === 100 && shown < 100))) {
      shown = percent;
      process.stderr.write(`downloading ${uri} ${percent}%\n`);
    }
  };
  watchdog();
  if (showProgress) process.stderr.write(`fetching ${uri} (no progress for ${stallMs / 1000} s counts as offline)\n`);
  try {
    return await Promise.race([
      resolveModelFile(uri, { cli: false, download: "auto", signal: stalled.signal, onProgress }),
      gaveUp,
    ]);
  } catch (error) {
    throw new StartupError(
      `could not fetch model ${uri} (${error instanceof Error ? error.message : error}). If this machine is offline, download the .gguf file elsewhere and pass its local path with --model.`,
    );
  } finally {
    clearTimeout(timer);
  }
}

// Architectures without attention/FFN blocks; everything else needs the keys below, and llama.cpp
// aborts the whole process (SIGABRT, uncatchable) when a transformer file lacks one of them.
const NON_TRANSFORMER = /^(mamba|mamba2|rwkv|arwkv)/;

/** Reads the GGUF header and checks the metadata llama.cpp needs, before the native loader sees the file. */
export async function checkModelFile(path: string): Promise<void> {
  let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
  try {
    info = await readGgufFileInfo(path, { sourceType: "filesystem", logWarnings: false });
  } catch (error) {
    throw new StartupError(`${path} is not a readable GGUF model file (${error instanceof Error ? error.message : error})`);
  }
  const architecture = info.metadata.general?.architecture;
  if (!architecture) throw new StartupError(`${path}: GGUF metadata lacks general.architecture`);
  const arch = info.architectureMetadata;
  const required: Array<[string, unknown]> = [
    ["embedding_length", arch.embedding_length],
    ["block_count", arch.block_count],
  ];
  if (!NON_TRANSFORMER.test(architecture))
    required.push(["feed_forward_length", arch.feed_forward_length], ["attention.head_count", arch.attention?.head_count]);
  const missing = required.filter(([, value]) => value == null).map(([key]) => `${architecture}.${key}`);
  if (missing.length > 0) throw new StartupError(`${path}: GGUF metadata lacks ${missing.join(", ")}; the file is incomplete or not a supported model`);
  if (!info.metadata.tokenizer?.ggml?.tokens) throw new StartupError(`${path}: GGUF file has no tokenizer vocabulary`);
}

/** A second model (the embedding model) on the llama.cpp instance the first one loaded. */
export async function loadSecondModel(loaded: LoadedModel, uri: string, options: Pick<LoadModelOptions, "downloadStallMs" | "showProgress"> = {}): Promise<LoadedModel> {
  const path = await resolveModelPath(uri, { stallMs: options.downloadStallMs, showProgress: options.showProgress });
  if (path === loaded.path) return loaded;
  await checkModelFile(path);
  try {
    return { llama: loaded.llama, model: await loaded.llama.loadModel({ modelPath: path }), path };
  } catch (error) {
    throw new StartupError(`could not load ${path} (${error instanceof Error ? error.message : error}); the file may be truncated or corrupt`);
  }
}

export async function loadModel(options: LoadModelOptions): Promise<LoadedModel> {
  const path = await resolveModelPath(options.model, { stallMs: options.downloadStallMs, showProgress: options.showProgress });
  await checkModelFile(path);
  let llama: Llama;
  try {
    llama = await getLlama({
      gpu: options.gpu,
      build: "never", // nothing may compile or download at run time
      maxThreads: options.threads,
      logLevel: LlamaLogLevel.error,
      logger: (level, message) => process.stderr.write(`[llama.cpp ${level}] ${message.trimEnd()}\n`),
    });
  } catch (error) {
    throw new StartupError(`no usable llama.cpp binary for --gpu ${options.gpu} (${error instanceof Error ? error.message : error})`);
  }
  try {
    const model = await llama.loadModel({ modelPath: path, onLoadProgress: options.onProgress });
    return { llama, model, path };
  } catch (error) {
    await llama.dispose();
    throw new StartupError(`could not load ${path} (${error instanceof Error ? error.message : error}); the file may be truncated or corrupt`);
  }
}
