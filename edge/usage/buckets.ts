// What one log line adds to the hourly history: which bucket (hour, provider, route, client, model,
// outcome, category) and how much. Pure: the recorder batches these, the store adds them up.
import type { InferEvent } from "../../shared/events.ts";
import { addCounts, bucketOf, emptyCounts, HISTOGRAM_NAMES, type Counts, type HistogramName } from "./histogram.ts";

/** answered, failed (by category), cancelled: a request's end; failed_over, retried, skipped: a provider's part in it. */
export const OUTCOMES = ["answered", "failed", "cancelled", "failed_over", "retried", "skipped"] as const;
export type UsageOutcome = (typeof OUTCOMES)[number];
/** Outcomes that end a request: what `requests` totals count. */
export const TERMINAL_OUTCOMES: ReadonlySet<UsageOutcome> = new Set(["answered", "failed", "cancelled"]);

export const DIMENSIONS = ["provider", "route", "client", "model", "outcome", "category"] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export const SUMS = ["requests", "prompt_tokens", "completion_tokens", "cost_usd", "cost_unknown", "cost_estimated", "ttft_ms_sum", "duration_ms_sum"] as const;
export type Sum = (typeof SUMS)[number];

export type BucketKey = { hour: number } & Record<Dimension, string>;
export type BucketCounts = Record<Sum, number> & Record<HistogramName, Counts>;
export type BucketRow = BucketKey & BucketCounts;

const HOUR_S = 3600;

const EVENT_OUTCOMES: Partial<Record<InferEvent["event"], UsageOutcome>> = {
  infer_completed: "answered",
  infer_failed: "failed",
  infer_cancelled: "cancelled",
  infer_fallback: "failed_over",
  infer_retry: "retried",
  infer_skipped: "skipped",
};

export function emptyCountsRow(): BucketCounts {
  const row = Object.fromEntries(SUMS.map((sum) => [sum, 0])) as Record<Sum, number>;
  return Object.assign(row, Object.fromEntries(HISTOGRAM_NAMES.map((name) => [name, emptyCounts(name)])) as Record<HistogramName, Counts>);
}

/**
 * The buckets a line counts in and what each adds: none for lines that count nothing (a start);
 * two for a continued answer, whose broken provider's part of the cost is counted at that
 * provider (with no request of its own: the request is the one that ended).
 */
export function bucketsOfLine(line: InferEvent, client: string | undefined): BucketRow[] {
  const row = bucketOfLine(line, client);
  if (!row) return [];
  const from = line.continued_from;
  if (!from || from.cost_usd === null || row.cost_unknown) return [row];
  row.cost_usd -= from.cost_usd;
  const part: BucketRow = { ...row, ...emptyCountsRow(), provider: from.provider, model: from.model, cost_usd: from.cost_usd };
  return [row, part];
}

function bucketOfLine(line: InferEvent, client: string | undefined): BucketRow | undefined {
  const outcome = EVENT_OUTCOMES[line.event];
  if (!outcome) return undefined;
  const key: BucketKey = {
    hour: Math.floor(Date.parse(line.ts) / 1000 / HOUR_S) * HOUR_S,
    provider: line.provider ?? "",
    route: line.route,
    client: client ?? "",
    model: line.model ?? "",
    outcome,
    // A failed request's reason is a client's own limit (budget_exceeded, client_rate_limited):
    // counted apart from the providers' categories.
    category: (outcome === "failed" ? line.reason ?? line.category : line.category ?? line.reason) ?? "",
  };
  const row: BucketRow = { ...key, ...emptyCountsRow() };
  row.requests = 1;
  if (!TERMINAL_OUTCOMES.has(outcome)) return row;
  row.prompt_tokens = line.prompt_tokens ?? 0;
  row.completion_tokens = line.completion_tokens ?? 0;
  if (line.cost_usd === null) row.cost_unknown = 1;
  else row.cost_usd = line.cost_usd ?? 0;
  if (line.cost_estimated) row.cost_estimated = 1;
  if (line.latency_ms !== undefined) {
    row.duration_ms_sum = line.latency_ms;
    row.duration[bucketOf("duration", line.latency_ms)]!++;
  }
  if (line.ttft_ms !== undefined) {
    row.ttft_ms_sum = line.ttft_ms;
    row.ttft[bucketOf("ttft", line.ttft_ms)]!++;
  }
  if (line.prompt_tokens !== undefined) row.input_tokens[bucketOf("input_tokens", line.prompt_tokens)]!++;
  if (line.completion_tokens !== undefined) row.output_tokens[bucketOf("output_tokens", line.completion_tokens)]!++;
  return row;
}

export function bucketId(key: BucketKey): string {
  return JSON.stringify([key.hour, ...DIMENSIONS.map((d) => key[d])]);
}

/** Adds `from`'s counts into `into` (same key). */
export function addInto(into: BucketCounts, from: BucketCounts): void {
  for (const sum of SUMS) into[sum] += from[sum];
  for (const name of HISTOGRAM_NAMES) addCounts(into[name], from[name]);
}

/** What the store is asked to sum (usage/store.ts). */
export interface AggregateQuery {
  /** Epoch seconds, inclusive: hours starting at or after `from`, before `to`. */
  from?: number;
  to?: number;
  /** Seconds per period (3600, 86400) or absent for one sum over the whole range. */
  period?: number;
  by: readonly Dimension[];
}

export type AggregateRow = { period?: number } & Partial<Record<Dimension, string>> & BucketCounts;
