// GET /v1/quota (admin keys): each provider's counts, limits, cool-down and next reset.
import type { Context } from "hono";
import type { AppEnv } from "../http.ts";
import { limitsOf, trackerName } from "./client.ts";

export async function quotaReport(c: Context<AppEnv>) {
  const config = c.get("config");
  const entries = await Promise.all(
    Object.entries(config.providers).map(async ([providerId, provider]) => {
      const stub = c.env.QUOTA.get(c.env.QUOTA.idFromName(trackerName(providerId, provider)));
      const usage = await stub.snapshot(limitsOf(provider) ?? { daily_reset_tz: provider.daily_reset_tz });
      return [providerId, { model: provider.model, ...usage }] as const;
    }),
  );
  return c.json({ object: "quota", generated_at: new Date().toISOString(), providers: Object.fromEntries(entries) });
}
