// Stored sums as the usage API shows them: requests by outcome, failures by category, tokens,
// cost (unknown and estimated counted apart, never hidden in a 0) and quantiles read back from the
// histograms. Shared by GET /v1/usage and the status page's charts (which call /v1/usage).
import { TERMINAL_OUTCOMES, type AggregateRow, type UsageOutcome } from "./buckets.ts";
import { roundUsd } from "./cost.ts";
import { addCounts, quantile, type HistogramName } from "./histogram.ts";

export interface Quantiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface UsageTotals {
  requests: number;
  answered: number;
  failed: number;
  cancelled: number;
  failed_over: number;
  retried: number;
  skipped: number;
  /** Requests that ended failed, by error category. */
  failures: Record<string, number>;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /**
   * USD at known prices; requests at an unknown price are counted in cost_unknown_requests, not
   * here. null when every request counted was at an unknown price: unknown, never shown as 0.
   */
  cost_usd: number | null;
  cost_unknown_requests: number;
  cost_estimated_requests: number;
  ttft_ms: Quantiles;
  duration_ms: Quantiles;
}

const roundMs = (ms: number | undefined) => (ms === undefined ? null : Math.round(ms * 10) / 10);

function quantiles(name: HistogramName, counts: number[]): Quantiles {
  return { p50: roundMs(quantile(name, counts, 0.5)), p95: roundMs(quantile(name, counts, 0.95)), p99: roundMs(quantile(name, counts, 0.99)) };
}

/** The totals of some stored rows (rows of any outcome: tokens and cost are on terminal ones only). */
export function totalsOf(rows: readonly AggregateRow[]): UsageTotals {
  const counts: Record<UsageOutcome, number> = { answered: 0, failed: 0, cancelled: 0, failed_over: 0, retried: 0, skipped: 0 };
  const failures: Record<string, number> = {};
  const ttft: number[] = [];
  const duration: number[] = [];
  let prompt = 0, completion = 0, cost = 0, unknown = 0, estimated = 0;
  for (const row of rows) {
    const outcome = row.outcome as UsageOutcome;
    counts[outcome] += row.requests;
    if (outcome === "failed") failures[row.category || "Unknown"] = (failures[row.category || "Unknown"] ?? 0) + row.requests;
    prompt += row.prompt_tokens;
    completion += row.completion_tokens;
    cost += row.cost_usd;
    unknown += row.cost_unknown;
    estimated += row.cost_estimated;
    if (ttft.length === 0) ttft.push(...row.ttft.map(() => 0)), duration.push(...row.duration.map(() => 0));
    addCounts(ttft, row.ttft);
    addCounts(duration, row.duration);
  }
  const requests = [...TERMINAL_OUTCOMES].reduce((sum, outcome) => sum + counts[outcome], 0);
  return {
    requests,
    ...counts,
    failures,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cost_usd: unknown > 0 && unknown >= requests ? null : roundUsd(cost),
    cost_unknown_requests: unknown,
    cost_estimated_requests: estimated,
    ttft_ms: quantiles("ttft", ttft),
    duration_ms: quantiles("duration", duration),
  };
}

/** Rows grouped by `key`, in first-seen order. */
export function groupRows<K>(rows: readonly AggregateRow[], key: (row: AggregateRow) => K): Map<K, AggregateRow[]> {
  const groups = new Map<K, AggregateRow[]>();
  for (const row of rows) {
    const k = key(row);
    const list = groups.get(k);
    if (list) list.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}
