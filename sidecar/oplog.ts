// The operation log: the shared InferEvent JSONL (one object per line) through pino, to --log-file
// or stdout. Never the prompt or answer text.
import { pino, type Logger } from "pino";
import type { InferEvent } from "../shared/events.ts";

export type InferEventFields = Omit<InferEvent, "ts" | "source">;

export interface OpLog {
  event(fields: InferEventFields): void;
  /** Lifecycle lines (listening, shutting down) in the same file. */
  info(message: string, fields?: Record<string, unknown>): void;
  flush(): Promise<void>;
}

export function createOpLog(logFile?: string): OpLog {
  const destination = pino.destination({ dest: logFile ?? 1, mkdir: logFile !== undefined, sync: false });
  const logger: Logger = pino(
    {
      base: undefined, // no pid/hostname: the line is the shared event schema
      messageKey: "message",
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return {
    event: (fields) => logger.info({ source: "sidecar", ...fields }),
    info: (message, fields) => logger.info(fields ?? {}, message),
    flush: () => new Promise((resolve) => logger.flush(() => resolve())),
  };
}
