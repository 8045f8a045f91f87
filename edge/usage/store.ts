// UsageStore: the hourly history in one SQLite-backed Durable Object (`usage`). Isolates send it
// their batched buckets (recorder.ts) at most every few seconds; /v1/usage and /metrics read sums
// back. One row per bucket key; each histogram is one column per bucket, so SQL adds them up.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { apiError } from "../http.ts";
import { DIMENSIONS, emptyCountsRow, SUMS, type AggregateQuery, type AggregateRow, type BucketRow } from "./buckets.ts";
import { HISTOGRAM_NAMES, HISTOGRAMS } from "./histogram.ts";

/** The one store's name (idFromName). */
export const USAGE_STORE = "usage";

const HIST_COLUMNS = HISTOGRAM_NAMES.flatMap((name) => HISTOGRAMS[name].map((_, i) => `${name}_${i}`).concat(`${name}_${HISTOGRAMS[name].length}`));
const COUNT_COLUMNS = [...SUMS, ...HIST_COLUMNS];
const KEY_COLUMNS = ["hour", ...DIMENSIONS];

const CREATE = `CREATE TABLE IF NOT EXISTS buckets (
  hour INTEGER NOT NULL, ${DIMENSIONS.map((d) => `${d} TEXT NOT NULL`).join(", ")},
  ${COUNT_COLUMNS.map((c) => `${c} ${c.startsWith("cost_usd") ? "REAL" : "INTEGER"} NOT NULL DEFAULT 0`).join(", ")},
  PRIMARY KEY (${KEY_COLUMNS.join(", ")}))`;
const UPSERT = `INSERT INTO buckets (${[...KEY_COLUMNS, ...COUNT_COLUMNS].join(", ")})
  VALUES (${[...KEY_COLUMNS, ...COUNT_COLUMNS].map(() => "?").join(", ")})
  ON CONFLICT (${KEY_COLUMNS.join(", ")}) DO UPDATE SET ${COUNT_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(", ")}`;

/** The one store, or a 503 naming the missing binding. */
export function usageStore(env: Env): DurableObjectStub<UsageStore> {
  if (!env.USAGE) throw apiError(503, "The usage history is not set up: bind the UsageStore Durable Object as USAGE (wrangler.toml)", "server_error", "usage_not_configured");
  return env.USAGE.get(env.USAGE.idFromName(USAGE_STORE));
}

function countsOf(row: BucketRow): number[] {
  return [...SUMS.map((sum) => row[sum]), ...HISTOGRAM_NAMES.flatMap((name) => row[name])];
}

export class UsageStore extends DurableObject<Env> {
  private prunedHour = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(CREATE);
  }

  /** Adds a batch of buckets, and drops hours older than `retentionDays` (checked once an hour). */
  add(rows: readonly BucketRow[], retentionDays: number): void {
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      for (const row of rows) sql.exec(UPSERT, ...KEY_COLUMNS.map((c) => row[c as keyof BucketRow] as string | number), ...countsOf(row));
    });
    const hour = Math.floor(Date.now() / 3_600_000) * 3600;
    if (hour !== this.prunedHour) {
      this.prunedHour = hour;
      sql.exec("DELETE FROM buckets WHERE hour < ?", hour - retentionDays * 86_400);
    }
  }

  /** Sums by period and the given dimensions, ordered by period then dimension values. */
  aggregate(query: AggregateQuery): AggregateRow[] {
    const groups = [...(query.period ? [`(hour / ${query.period}) * ${query.period} AS period`] : []), ...query.by];
    const where: string[] = [];
    const params: number[] = [];
    if (query.from !== undefined) where.push("hour >= ?"), params.push(query.from);
    if (query.to !== undefined) where.push("hour < ?"), params.push(query.to);
    const groupNames = [...(query.period ? ["period"] : []), ...query.by];
    const text = `SELECT ${[...groups, ...COUNT_COLUMNS.map((c) => `SUM(${c}) AS ${c}`)].join(", ")} FROM buckets
      ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ${groupNames.length ? `GROUP BY ${groupNames.join(", ")} ORDER BY ${groupNames.join(", ")}` : ""}`;
    const out: AggregateRow[] = [];
    for (const raw of this.ctx.storage.sql.exec<Record<string, string | number>>(text, ...params)) {
      if (!groupNames.length && raw.requests === null) break; // no rows at all
      const row = emptyCountsRow() as AggregateRow;
      if (query.period) row.period = Number(raw.period);
      for (const d of query.by) row[d] = String(raw[d]);
      for (const sum of SUMS) row[sum] = Number(raw[sum] ?? 0);
      for (const name of HISTOGRAM_NAMES) row[name] = row[name].map((_, i) => Number(raw[`${name}_${i}`] ?? 0));
      out.push(row);
    }
    return out;
  }
}
