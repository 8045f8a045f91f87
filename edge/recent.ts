// The last failovers and skips, newest first, for GET /v1/quota's `recent` (the status page).
// Kept in memory per isolate: each Worker instance has its own list and a fresh one starts empty,
// so this is a glance at what this instance saw, not a log (the operation log is that).
import type { InferEvent } from "../shared/events.ts";

const KEEP = 50;

export type RecentEvent = Pick<
  InferEvent,
  "ts" | "event" | "request_id" | "route" | "provider" | "reason" | "category" | "status" | "retry_at" | "message"
>;

const recent: RecentEvent[] = [];

/** Keeps an `infer_skipped` or `infer_fallback` line; other events are ignored. */
export function rememberRecent(line: InferEvent): void {
  if (line.event !== "infer_skipped" && line.event !== "infer_fallback") return;
  const { ts, event, request_id, route, provider, reason, category, status, retry_at, message } = line;
  recent.unshift({ ts, event, request_id, route, provider, reason, category, status, retry_at, message });
  if (recent.length > KEEP) recent.length = KEEP;
}

/** A copy of what is kept, newest first. */
export function recentEvents(): RecentEvent[] {
  return recent.slice();
}
