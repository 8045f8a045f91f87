// GET /metrics (admin keys or METRICS_TOKEN): Prometheus text from the stored history (every
// hour kept, summed, so counters only grow whichever isolate answers the scrape) and the
// trackers' present state. This isolate's pending counts are written first.
import type { Context } from "hono";
import type { AppEnv } from "../http.ts";
import { limitsOf, trackerName } from "../quota/client.ts";
import { historyFamilies, trackerFamilies } from "../usage/metric-families.ts";
import { CONTENT_TYPE, exposition } from "../usage/prometheus.ts";
import { flushUsage } from "../usage/recorder.ts";
import { usageStore } from "../usage/store.ts";

export async function metrics(c: Context<AppEnv>) {
  const config = c.get("config");
  await flushUsage(c.env);
  const rows = await usageStore(c.env).aggregate({ by: ["provider", "route", "client", "model", "outcome", "category"] });
  const snapshots = await Promise.all(
    Object.entries(config.providers).map(async ([providerId, provider]) => {
      const tracker = c.env.QUOTA.get(c.env.QUOTA.idFromName(trackerName(providerId, provider)));
      const limits = limitsOf(provider, config.quota_groups) ?? { daily_reset_tz: provider.daily_reset_tz };
      // A group member: the group's limits and counts, its own circuit.
      const snap = await tracker.snapshot(limits);
      const own = provider.quota_group === undefined ? {} : { circuit: (await tracker.memberSnapshot(limits, providerId)).circuit };
      return [providerId, { ...snap, ...own }] as const;
    }),
  );
  return c.body(exposition([...historyFamilies(rows), ...trackerFamilies(snapshots)]), 200, { "content-type": CONTENT_TYPE });
}
