// GET /v1/quota (admin keys): each provider's counts, limits, cool-down and next reset.
import type { Context } from "hono";
import { readSecret } from "../env.ts";
import type { AppEnv } from "../http.ts";
import { recentEvents } from "../recent.ts";
import { limitsOf, trackerName } from "./client.ts";

export async function quotaReport(c: Context<AppEnv>) {
  const config = c.get("config");
  const entries = await Promise.all(
    Object.entries(config.providers).map(async ([providerId, provider]) => {
      const stub = c.env.QUOTA.get(c.env.QUOTA.idFromName(trackerName(providerId, provider)));
      const usage = await stub.snapshot(limitsOf(provider) ?? { daily_reset_tz: provider.daily_reset_tz });
      // A provider without api_key_secret needs no key, so it counts as present.
      const key = !provider.api_key_secret || (await readSecret(c.env, provider.api_key_secret)).ok ? "present" : "missing";
      return [providerId, { model: provider.model, type: provider.type, key, daily_reset_tz: provider.daily_reset_tz, ...usage }] as const;
    }),
  );
  // `recent`: this isolate's last skips and failovers, newest first (see recent.ts).
  return c.json({ object: "quota", generated_at: new Date().toISOString(), providers: Object.fromEntries(entries), recent: recentEvents() });
}
