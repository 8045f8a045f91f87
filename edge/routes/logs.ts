// GET /v1/logs?date=YYYY-MM-DD (admin keys; no date: today, UTC): one UTC day of the operation log as JSONL. Self-hosted
// (`npm run serve`) the daily files are read through the LOGS_DIR disk service and streamed as they
// are; on Cloudflare there is no such directory, and the answer says where the log goes instead.
import type { Context } from "hono";
import * as z from "zod";
import { apiError, type AppEnv } from "../http.ts";

const LogDate = z.iso.date();

export async function operationLog(c: Context<AppEnv>) {
  const date = LogDate.safeParse(c.req.query("date") ?? new Date().toISOString().slice(0, 10));
  if (!date.success) {
    throw apiError(400, "date must be a UTC day written YYYY-MM-DD, e.g. /v1/logs?date=2026-12-01", "invalid_request_error", "invalid_date", "date");
  }
  const dir = c.env.LOGS_DIR;
  if (!dir) {
    throw apiError(
      404,
      "This Worker runs on Cloudflare, where the operation log goes to Workers Logs: keep it as files with Logpush (Workers Paid plan) or `npm run logs:tail` (free plan)",
      "invalid_request_error",
      "logs_not_on_disk",
    );
  }
  const file = await dir.fetch(`http://logs/operations-${date.data}.jsonl`);
  if (!file.ok) {
    await file.body?.cancel();
    throw apiError(404, `No operation log for ${date.data} (UTC)`, "invalid_request_error", "log_not_found", "date");
  }
  return new Response(file.body, { headers: { "content-type": "application/x-ndjson; charset=utf-8" } });
}
