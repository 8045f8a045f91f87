// POST /internal/usage/flush: self-hosted only (`npm run serve` binds USAGE_FLUSH_TOKEN, a new
// random value each start, and calls this before it stops workerd). workerd does not wait for a
// waitUntil timer on SIGTERM, so without this a stop would lose up to USAGE_FLUSH_MS of history.
// Without the binding (Cloudflare) the path does not exist.
import type { Context } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import type { AppEnv } from "../http.ts";
import { drainUsage } from "../usage/recorder.ts";

export async function usageFlush(c: Context<AppEnv>) {
  const token = c.env.USAGE_FLUSH_TOKEN;
  const given = c.req.header("authorization")?.replace(/^Bearer /, "") ?? "";
  if (!token || !(await timingSafeEqual(token, given))) return c.notFound();
  await drainUsage(c.env);
  return c.body(null, 204);
}
