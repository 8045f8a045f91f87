// What GET /metrics shows: the stored history as OpenTelemetry GenAI histograms and inferrouter_*
// counters, and the trackers' present state (circuits, quota left) as gauges.
import type { QuotaSnapshot } from "../quota/window.ts";
import type { AggregateRow, Dimension } from "./buckets.ts";
import type { Family, HistogramSample, Labels, Sample } from "./prometheus.ts";
import { groupRows } from "./report.ts";

const sumOf = (rows: readonly AggregateRow[], pick: (row: AggregateRow) => number) => rows.reduce((sum, row) => sum + pick(row), 0);

/** Samples of `pick` summed over rows with the same labels; zero sums are left out unless `known` says a 0 is a real value. */
function counter(rows: readonly AggregateRow[], labels: (row: AggregateRow) => Labels, pick: (row: AggregateRow) => number, known?: (row: AggregateRow) => boolean): Sample[] {
  return [...groupRows(rows, (row) => JSON.stringify(labels(row))).entries()].flatMap(([key, list]) => {
    const value = sumOf(list, pick);
    return value || (known && list.some(known)) ? [{ labels: JSON.parse(key) as Labels, value }] : [];
  });
}

function histogram(rows: readonly AggregateRow[], labels: (row: AggregateRow) => Labels, counts: (row: AggregateRow) => readonly number[], sum: (row: AggregateRow) => number): HistogramSample[] {
  return [...groupRows(rows, (row) => JSON.stringify(labels(row))).entries()].flatMap(([key, list]) => {
    const total = list[0] ? counts(list[0]).map((_, i) => sumOf(list, (row) => counts(row)[i] ?? 0)) : [];
    return total.some(Boolean) ? [{ labels: JSON.parse(key) as Labels, counts: total, sum: sumOf(list, sum) }] : [];
  });
}

const genAi = (row: AggregateRow): Labels => ({ gen_ai_provider_name: row.provider!, gen_ai_request_model: row.model! });
const pick = (row: AggregateRow, dims: readonly Dimension[]): Labels => Object.fromEntries(dims.map((d) => [d, row[d] ?? ""]));
const ended = (row: AggregateRow) => row.outcome === "answered" || row.outcome === "failed" || row.outcome === "cancelled";

/** The history's families; rows are summed over all stored hours by every dimension. */
export function historyFamilies(all: readonly AggregateRow[]): Family[] {
  const terminal = all.filter(ended);
  const withProvider = terminal.filter((row) => row.provider);
  const ofOutcome = (outcome: string) => all.filter((row) => row.outcome === outcome);
  return [
    {
      name: "gen_ai_client_token_usage",
      help: "Tokens used per request (input: prompt, output: completion), as providers reported them.",
      type: "histogram",
      histogram: "input_tokens",
      per: 1,
      samples: [
        ...histogram(withProvider, (row) => ({ ...genAi(row), gen_ai_token_type: "input" }), (row) => row.input_tokens, (row) => row.prompt_tokens),
        ...histogram(withProvider, (row) => ({ ...genAi(row), gen_ai_token_type: "output" }), (row) => row.output_tokens, (row) => row.completion_tokens),
      ],
    },
    {
      name: "gen_ai_server_request_duration",
      help: "Seconds from the request's arrival to its end (a stream's last byte), by the provider that ended it.",
      type: "histogram",
      histogram: "duration",
      per: 1000,
      samples: histogram(withProvider, genAi, (row) => row.duration, (row) => row.duration_ms_sum),
    },
    {
      name: "gen_ai_server_time_to_first_token",
      help: "Seconds from the request's arrival to a stream's first content byte.",
      type: "histogram",
      histogram: "ttft",
      per: 1000,
      samples: histogram(withProvider, genAi, (row) => row.ttft, (row) => row.ttft_ms_sum),
    },
    {
      name: "inferrouter_requests_total",
      help: "Requests by how they ended (outcome answered, failed with its category, cancelled).",
      type: "counter",
      samples: counter(terminal, (row) => pick(row, ["provider", "route", "client", "model", "outcome", "category"]), (row) => row.requests),
    },
    { name: "inferrouter_failovers_total", help: "Calls that failed and moved the request on to the next provider, by category.", type: "counter", samples: counter(ofOutcome("failed_over"), (row) => pick(row, ["provider", "route", "model", "category"]), (row) => row.requests) },
    { name: "inferrouter_retries_total", help: "Failed calls tried again on the same provider, by category.", type: "counter", samples: counter(ofOutcome("retried"), (row) => pick(row, ["provider", "route", "model", "category"]), (row) => row.requests) },
    { name: "inferrouter_skips_total", help: "Providers skipped without a call, by reason (category label).", type: "counter", samples: counter(ofOutcome("skipped"), (row) => pick(row, ["provider", "route", "model", "category"]), (row) => row.requests) },
    {
      name: "inferrouter_tokens_total",
      help: "Tokens providers reported, by client and type (prompt, completion).",
      type: "counter",
      samples: [
        ...counter(terminal, (row) => ({ ...pick(row, ["provider", "route", "client", "model"]), type: "prompt" }), (row) => row.prompt_tokens),
        ...counter(terminal, (row) => ({ ...pick(row, ["provider", "route", "client", "model"]), type: "completion" }), (row) => row.completion_tokens),
      ],
    },
    {
      name: "inferrouter_cost_usd_total",
      help: "USD spent at the configured prices (requests at an unknown price not included; 0 for a free tier's answers).",
      type: "counter",
      // A 0 is shown where an answer had a known price (a free tier), never for answers at an unknown price only.
      samples: counter(terminal, (row) => pick(row, ["provider", "route", "client", "model"]), (row) => row.cost_usd, (row) => row.outcome === "answered" && (row.requests > row.cost_unknown || row.cost_usd > 0)),
    },
    { name: "inferrouter_cost_unknown_requests_total", help: "Answered requests whose provider has no price: their cost is unknown, not 0.", type: "counter", samples: counter(terminal, (row) => pick(row, ["provider", "route", "client", "model"]), (row) => row.cost_unknown) },
    { name: "inferrouter_cost_estimated_requests_total", help: "Requests priced from the router's token estimate (the provider reported no usage).", type: "counter", samples: counter(terminal, (row) => pick(row, ["provider", "route", "client", "model"]), (row) => row.cost_estimated) },
  ];
}

const CIRCUIT_VALUES = { closed: 0, half_open: 1, open: 2 } as const;
const REMAINING: Array<[string, keyof QuotaSnapshot, keyof QuotaSnapshot]> = [
  ["requests_per_day", "requests_per_day", "requests_today"],
  ["requests_per_minute", "requests_per_minute", "requests_last_minute"],
  ["tokens_per_day", "tokens_per_day", "tokens_today"],
  ["tokens_per_minute", "tokens_per_minute", "tokens_last_minute"],
];

/** A tracker's snapshot with what names it: `{ provider }`, `{ group }` or `{ client }`. */
export type OwnedSnapshot = readonly [Record<string, string>, QuotaSnapshot];

const BUDGETS: Array<[string, keyof QuotaSnapshot]> = [
  ["day", "budget_usd_remaining_today"],
  ["month", "budget_usd_remaining_this_month"],
];

/**
 * Each provider's circuit and the quota it has left, from its tracker's snapshot; the USD left of
 * every budget that is set, for providers, quota groups and clients (`budgets`).
 */
export function trackerFamilies(snapshots: ReadonlyArray<readonly [string, QuotaSnapshot]>, budgets: ReadonlyArray<OwnedSnapshot> = []): Family[] {
  return [
    {
      name: "inferrouter_circuit_state",
      help: "A provider's circuit breaker: 0 closed, 1 half open (one trial call), 2 open (skipped).",
      type: "gauge",
      samples: snapshots.map(([provider, snap]) => ({ labels: { provider }, value: CIRCUIT_VALUES[snap.circuit.state] })),
    },
    {
      name: "inferrouter_quota_remaining",
      help: "Requests or tokens a provider has left in its window (limit label), for limits that are set.",
      type: "gauge",
      samples: snapshots.flatMap(([provider, snap]) =>
        REMAINING.flatMap(([limit, max, used]) => {
          const cap = snap[max] as number | null;
          return cap === null ? [] : [{ labels: { provider, limit }, value: Math.max(0, cap - (snap[used] as number)) }];
        }),
      ),
    },
    {
      name: "inferrouter_budget_remaining_usd",
      help: "USD left of a budget (period day or month) of a provider, quota group or client, for budgets that are set.",
      type: "gauge",
      samples: budgets.flatMap(([owner, snap]) =>
        BUDGETS.flatMap(([period, left]) => {
          const value = snap[left] as number | null;
          return value === null ? [] : [{ labels: { ...owner, period }, value }];
        }),
      ),
    },
  ];
}
