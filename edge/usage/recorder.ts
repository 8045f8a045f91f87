// The isolate's batch of history buckets: every request's lines are added here (no I/O on the
// request path), and written to the UsageStore from a waitUntil task at most every
// USAGE_FLUSH_MS (default 2 s), so a busy isolate makes one store call per interval, not one
// per request. An isolate evicted before its flush loses what it counted since the last one; a
// failed write is kept and tried again with the next flush.
import type { InferEvent } from "../../shared/events.ts";
import { loadConfig, routerConfigOf } from "../config.ts";
import type { Env } from "../env.ts";
import { addInto, bucketId, bucketsOfLine, type BucketRow } from "./buckets.ts";
import { usageStore } from "./store.ts";

export const DEFAULT_FLUSH_MS = 2_000;
const DEFAULT_RETENTION_DAYS = 90;

let batch = new Map<string, BucketRow>();
let scheduled = false;
let writing: Promise<void> = Promise.resolve();
/** Set once the process is about to stop (drainUsage): every later line is written at once. */
let draining = false;

function flushDelay(env: Env): number {
  if (draining) return 0;
  const value = Number(env.USAGE_FLUSH_MS);
  return env.USAGE_FLUSH_MS !== undefined && Number.isFinite(value) && value >= 0 ? value : DEFAULT_FLUSH_MS;
}

/** Adds a row into the batch's bucket of the same key. */
function keep(row: BucketRow): void {
  const kept = batch.get(bucketId(row));
  if (kept) addInto(kept, row);
  else batch.set(bucketId(row), row);
}

/** Counts one log line (skips, failovers, retries and terminal lines count; others are ignored). */
export function recordLine(env: Env, defer: (task: Promise<unknown>) => void, line: InferEvent, client: string | undefined): void {
  if (!env.USAGE) return;
  const rows = bucketsOfLine(line, client);
  if (!rows.length) return;
  for (const row of rows) keep(row);
  if (scheduled) return;
  scheduled = true;
  // Kept alive by the request that opened the batch; later requests in the interval join it.
  defer(new Promise((resolve) => setTimeout(resolve, flushDelay(env))).then(() => flushUsage(env)));
}

/** Writes the batch to the store now (the readers call this first, so this isolate's counts show). */
export function flushUsage(env: Env): Promise<void> {
  scheduled = false;
  const rows = [...batch.values()];
  batch = new Map();
  if (!rows.length || !env.USAGE) return writing;
  const retention = retentionDays(env);
  // One write at a time, in order, so a reader that awaits this sees every earlier write too.
  writing = writing.then(async () => {
    try {
      await usageStore(env).add(rows, retention);
    } catch (error) {
      for (const row of rows) keep(row);
      console.error(JSON.stringify({ event: "usage_write_failed", message: String(error), buckets: rows.length }));
    }
  });
  return writing;
}

/** Self-hosted stop (routes/usage-flush.ts): writes the batch, and from now on each request's counts as it ends. */
export function drainUsage(env: Env): Promise<void> {
  draining = true;
  return flushUsage(env);
}

function retentionDays(env: Env): number {
  const loaded = loadConfig(routerConfigOf(env));
  return loaded.ok ? loaded.config.usage_retention_days : DEFAULT_RETENTION_DAYS;
}
