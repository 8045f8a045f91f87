// GET /v1/usage (admin keys): the hourly history summed by hour or day and by one dimension, with
// totals per group and for the whole range. This isolate's pending counts are written first.
import type { Context } from "hono";
import { validator } from "hono/validator";
import * as z from "zod";
import { zodToOpenAIError } from "../../shared/errors.ts";
import { apiError, type AppEnv } from "../http.ts";
import { flushUsage } from "../usage/recorder.ts";
import { groupRows, totalsOf } from "../usage/report.ts";
import { usageStore } from "../usage/store.ts";

const HOUR_S = 3600;
const DAY_S = 86_400;
const INTERVALS = { hour: HOUR_S, day: DAY_S } as const;
export const GROUPS = ["provider", "route", "client", "model"] as const;

const Instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], { error: "expected an ISO 8601 date or date-time (2026-12-07 or 2026-12-07T10:00:00Z)" })
  .transform((value) => Date.parse(value) / 1000);

const UsageQuery = z
  .strictObject({
    from: Instant.optional().describe("start (inclusive, rounded down to the interval); default: 24 hours (interval hour) or 30 days (day) before `to`"),
    to: Instant.optional().describe("end (exclusive, rounded up to the interval); default now"),
    interval: z.enum(["hour", "day"]).default("hour"),
    group_by: z.enum(GROUPS).default("provider"),
  })
  .transform((query) => {
    const period = INTERVALS[query.interval];
    const to = Math.ceil((query.to ?? Date.now() / 1000) / period) * period;
    const from = Math.floor((query.from ?? to - (query.interval === "hour" ? DAY_S : 30 * DAY_S)) / period) * period;
    return { ...query, period, from, to };
  })
  .refine((query) => query.from < query.to, { path: ["from"], message: "must be before to" });

/** The query string checked: a bad value is a 400 naming it. */
export const validateUsageQuery = validator("query", (value, c: Context<AppEnv>) => {
  const parsed = UsageQuery.safeParse(value);
  if (parsed.success) {
    const days = (parsed.data.to - parsed.data.from) / DAY_S;
    const retention = c.get("config").usage_retention_days;
    if (days > retention + 1) throw apiError(400, `from: the range is ${Math.ceil(days)} days; history is kept usage_retention_days (${retention})`, "invalid_request_error", "invalid_value", "from");
    return parsed.data;
  }
  const { error } = zodToOpenAIError(parsed.error, "Invalid usage query");
  // An unknown parameter has no path of its own: name it.
  const issue = parsed.error.issues[0];
  const param = issue?.code === "unrecognized_keys" ? (issue.keys[0] ?? null) : error.param;
  throw apiError(400, error.message, error.type, error.code, param);
});

export async function usageReport(c: Context<AppEnv, string, { out: { query: z.output<typeof UsageQuery> } }>) {
  const query = c.req.valid("query");
  await flushUsage(c.env);
  const rows = await usageStore(c.env).aggregate({ from: query.from, to: query.to, period: query.period, by: [query.group_by, "outcome", "category"] });
  const group = query.group_by;
  const buckets = [...groupRows(rows, (row) => `${row.period}\u0000${row[group]}`).values()].map((list) => ({
    start: new Date(list[0]!.period! * 1000).toISOString(),
    [group]: list[0]![group],
    ...totalsOf(list),
  }));
  const groups = Object.fromEntries([...groupRows(rows, (row) => row[group]!).entries()].map(([name, list]) => [name, totalsOf(list)]));
  return c.json({
    object: "usage",
    from: new Date(query.from * 1000).toISOString(),
    to: new Date(query.to * 1000).toISOString(),
    interval: query.interval,
    group_by: group,
    buckets,
    groups,
    totals: totalsOf(rows),
  });
}
