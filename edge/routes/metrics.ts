// GET /metrics (admin keys or METRICS_TOKEN): Prometheus text from the stored history (every
// hour kept, summed, so counters only grow whichever isolate answers the scrape) and the
// trackers' present state. This isolate's pending counts are written and its leases given back first.
import type { Context } from "hono";
import type { AppEnv } from "../http.ts";
import { returnIsolateLeases } from "../quota/report.ts";
import { clientTrackerName, groupTrackerName, limitsFrom, limitsOf, providerHint, trackerName, trackerStub } from "../quota/client.ts";
import { historyFamilies, trackerFamilies, type OwnedSnapshot } from "../usage/metric-families.ts";
import { CONTENT_TYPE, exposition } from "../usage/prometheus.ts";
import { flushUsage } from "../usage/recorder.ts";
import { usageStore } from "../usage/store.ts";

export async function metrics(c: Context<AppEnv>) {
  const config = c.get("config");
  await Promise.all([flushUsage(c.env), returnIsolateLeases(c)]);
  const rows = await usageStore(c.env).aggregate({ by: ["provider", "route", "client", "model", "outcome", "category"] });
  const stub = (name: string, hint: DurableObjectLocationHint | undefined = config.location_hint) => trackerStub(c.env, name, hint);
  const snapshots = await Promise.all(
    Object.entries(config.providers).map(async ([providerId, provider]) => {
      const tracker = stub(trackerName(providerId, provider), providerHint(provider, config));
      const limits = limitsOf(provider, config.quota_groups) ?? { daily_reset_tz: provider.daily_reset_tz };
      // A group member: the group's limits and counts, its own circuit.
      const snap = await tracker.snapshot(limits);
      const own = provider.quota_group === undefined ? {} : { circuit: (await tracker.memberSnapshot(limits, providerId)).circuit };
      return [providerId, { ...snap, ...own }] as const;
    }),
  );
  // Groups and clients with a budget: their own trackers (a provider's budget is in its snapshot).
  const hasBudget = (limits: { budget_usd_per_day?: number; budget_usd_per_month?: number }) => limits.budget_usd_per_day !== undefined || limits.budget_usd_per_month !== undefined;
  const owned = async (labels: Record<string, string>, name: string, limits: ReturnType<typeof limitsFrom>): Promise<OwnedSnapshot> => [labels, await stub(name).snapshot(limits ?? {})];
  const budgets: OwnedSnapshot[] = [
    ...snapshots.filter(([id]) => config.providers[id]!.quota_group === undefined).map(([provider, snap]): OwnedSnapshot => [{ provider }, snap]),
    ...(await Promise.all(Object.entries(config.quota_groups).filter(([, g]) => hasBudget(g)).map(([group, g]) => owned({ group }, groupTrackerName(group), limitsFrom(g))))),
    ...(await Promise.all(Object.entries(config.clients).filter(([, cl]) => hasBudget(cl)).map(([client, cl]) => owned({ client }, clientTrackerName(client), limitsFrom(cl))))),
  ];
  return c.body(exposition([...historyFamilies(rows), ...trackerFamilies(snapshots, budgets)]), 200, { "content-type": CONTENT_TYPE });
}
