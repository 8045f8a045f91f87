// startSidecar(): model -> engine -> HTTP server, and the matching orderly stop. main.ts is the CLI
// around it; tests call it directly.
import { availableParallelism } from "node:os";
import { basename } from "node:path";
import type { AddressInfo } from "node:net";
import { setTimeout } from "node:timers/promises";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { Embedder } from "./embeddings.ts";
import { Engine } from "./engine.ts";
import { loadModel, loadSecondModel, StartupError, type GpuOption } from "./model.ts";
import { createOpLog, type OpLog } from "./oplog.ts";
import { TokenFile } from "./secrets.ts";
import { createApp } from "./server.ts";

export interface SidecarOptions {
  /** Local .gguf path or hf: URI. */
  model: string;
  /** GGUF for /v1/embeddings (may be the same file as `model`); without it the sidecar serves no embeddings. */
  embeddingModel?: string;
  host?: string;
  port?: number;
  parallel?: number;
  contextSize?: number;
  threads?: number;
  /** Queued requests beyond the running ones; more get a 503. */
  maxQueue?: number;
  secretsDir?: string;
  insecureNoAuth?: boolean;
  logFile?: string;
  gpu?: GpuOption;
  /** The model id clients see in /v1/models and answers. */
  modelId?: string;
  /** How long SIGTERM waits for running generations before cancelling them. */
  graceMs?: number;
  onLoadProgress?: (progress: number) => void;
  /** hf: downloads that show no progress this long fail as offline (default 20 s). */
  downloadStallMs?: number;
  /** Show download and load progress on the terminal (the CLI does). */
  showProgress?: boolean;
}

export interface Sidecar {
  url: string;
  engine: Engine;
  /** Stop accepting, finish or cancel in-flight work within graceMs, free the model. */
  close(graceMs?: number): Promise<void>;
}

/**
 * llama.cpp's own default oversubscribes small machines (4 threads on 2 cores ran ~30x slower
 * than 1). Use about one thread per physical core: half the logical CPUs, at least one.
 */
export const defaultThreads = () => Math.max(1, Math.floor(availableParallelism() / 2));

export const DEFAULTS = { host: "127.0.0.1", port: 8081, parallel: 1, maxQueue: 16, secretsDir: "/run/secrets", graceMs: 10_000 };

export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  // Auth first: refusing to start is cheaper before the model loads.
  let tokenFile: TokenFile | undefined;
  if (!options.insecureNoAuth) {
    tokenFile = new TokenFile(options.secretsDir ?? DEFAULTS.secretsDir);
    if (tokenFile.legacy) console.error(`inferrouter-sidecar: deprecated: ${tokenFile.path}: rename it to SIDECAR_TOKEN (the edge's name for the same secret)`);
    if (tokenFile.current() === null) {
      tokenFile.close();
      throw new StartupError(
        `no bearer token: ${tokenFile.path} is missing or empty. Put the token there (the edge's SIDECAR_TOKEN) (a Docker secret) or pass --insecure-no-auth for local testing.`,
      );
    }
  }
  const threads = options.threads ?? defaultThreads();
  const log: OpLog = createOpLog(options.logFile);
  let engine: Engine;
  let embedder: Embedder | undefined;
  try {
    const loaded = await loadModel({
      model: options.model,
      gpu: options.gpu ?? false,
      threads,
      onProgress: options.onLoadProgress,
      downloadStallMs: options.downloadStallMs,
      showProgress: options.showProgress,
    });
    engine = await Engine.create({
      loaded,
      modelId: options.modelId ?? basename(loaded.path).replace(/\.gguf$/i, ""),
      parallel: options.parallel ?? DEFAULTS.parallel,
      contextSize: options.contextSize,
      threads,
      maxQueue: options.maxQueue ?? DEFAULTS.maxQueue,
    });
    if (options.embeddingModel) {
      const embeddingModel = await loadSecondModel(loaded, options.embeddingModel, { downloadStallMs: options.downloadStallMs, showProgress: options.showProgress });
      embedder = await Embedder.create({
        engine,
        model: embeddingModel.model,
        modelId: basename(embeddingModel.path).replace(/\.gguf$/i, ""),
        threads,
        ownsModel: embeddingModel !== loaded,
      });
    }
  } catch (error) {
    tokenFile?.close();
    await log.flush();
    throw error;
  }

  let draining = false;
  const app = createApp({ engine, embedder, log, token: tokenFile ? () => tokenFile.current() : undefined, draining: () => draining });
  const server: Server = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: options.host ?? DEFAULTS.host, port: options.port ?? DEFAULTS.port }, () =>
      resolve(s),
    ) as Server;
    s.once("error", reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info("listening", { url, model: engine.modelId, parallel: engine.health().parallel, context_size: engine.contextSize, threads });

  let closing: Promise<void> | undefined;
  const close = (graceMs = options.graceMs ?? DEFAULTS.graceMs) =>
    (closing ??= (async () => {
      // Refuse new work at once, on open keep-alive sockets too (cloudflared keeps a pool), so the
      // edge fails over instead of queueing work that the end of the grace period would cancel.
      draining = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      log.info("shutting down", { grace_ms: graceMs });
      // Embeddings hold the engine's slots too, so once it is idle they are done: free their model first.
      await engine.close(graceMs, async () => embedder?.close());
      // In-flight answers are written by now; drop keep-alive sockets so close() can finish.
      server.closeIdleConnections();
      await Promise.race([stopped, setTimeout(1000)]);
      server.closeAllConnections();
      await stopped;
      tokenFile?.close();
      log.info("stopped");
      await log.flush();
    })());
  return { url, engine, close };
}
