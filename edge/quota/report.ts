// GET /v1/quota (admin keys): each provider's counts, limits, cool-down and next reset; each quota
// group's shared counts and its providers; each client's counts against its own limits; USD
// budgets and what is left of them. This isolate's leases are given back first, so the counts
// are what was used as far as it goes (other isolates' unused leases show as requests_leased).
import type { QuotaSnapshot } from "./window.ts";
import type { Context } from "hono";
import { readSecret } from "../env.ts";
import type { AppEnv } from "../http.ts";
import { recentEvents } from "../recent.ts";
import { roundUsd } from "../usage/cost.ts";
import { clientTrackerName, countsTokens, countsUsd, groupTrackerName, limitsFrom, limitsOf, providerHint, QuotaClient, quotaOptions, trackerName, trackerStub } from "./client.ts";
import type { QuotaLimits } from "./window.ts";

type Counted<T> = { [K in keyof T]: T[K] | null };

const USD_FIELDS = ["usd_today", "budget_usd_remaining_today", "usd_this_month", "budget_usd_remaining_this_month"] as const;

/**
 * A tracker counts only what some limit needs: requests under any limit, tokens under a token
 * limit, USD under a budget. What it does not count reads null, never a 0 next to a provider that
 * served requests. USD reads rounded to a nano-dollar (float sums show 0.30000000000000004); the
 * tracker admits on the exact sums.
 */
function countedOnly<T extends Partial<QuotaSnapshot>>(usage: T, limits: QuotaLimits | undefined): Counted<T> {
  const out: Counted<T> = { ...usage };
  for (const key of USD_FIELDS) {
    const usd = out[key];
    if (typeof usd === "number") (out as Record<string, unknown>)[key] = roundUsd(usd);
  }
  const none = (keys: (keyof QuotaSnapshot)[]) => {
    for (const key of keys) if (key in out) (out as Record<string, unknown>)[key] = null;
  };
  if (!limits) none(["requests_today", "requests_last_minute"]);
  if (!countsTokens(limits)) none(["tokens_today", "tokens_last_minute"]);
  if (!countsUsd(limits)) none(["usd_today", "usd_this_month"]);
  return out;
}

/** A snapshot's budget fields, for groups and clients (providers show the whole snapshot). */
function budgetFields(usage: Counted<QuotaSnapshot>) {
  const { usd_today, budget_usd_per_day, budget_usd_remaining_today, usd_this_month, budget_usd_per_month, budget_usd_remaining_this_month, next_month_reset } = usage;
  return { usd_today, budget_usd_per_day, budget_usd_remaining_today, usd_this_month, budget_usd_per_month, budget_usd_remaining_this_month, next_month_reset };
}

/** Gives this isolate's leases back before a report reads the trackers: their counts are then what was used. */
export async function returnIsolateLeases(c: Context<AppEnv>): Promise<void> {
  const config = c.get("config");
  // A report has no InferLog (it is not an inference): a give-back that fails stays counted at worst.
  const log = c.get("log") as AppEnv["Variables"]["log"] | undefined;
  const returning = new QuotaClient(c.env, (promise) => c.executionCtx.waitUntil(promise), (provider, message) => log?.quotaUnavailable({ provider, message }), quotaOptions(config));
  await returning.returnLeases(config);
}

export async function quotaReport(c: Context<AppEnv>) {
  const config = c.get("config");
  const stub = (name: string, hint: DurableObjectLocationHint | undefined = config.location_hint) => trackerStub(c.env, name, hint);
  await returnIsolateLeases(c);
  const providers = await Promise.all(
    Object.entries(config.providers).map(async ([providerId, provider]) => {
      const tracker = stub(trackerName(providerId, provider), providerHint(provider, config));
      const group = provider.quota_group;
      const counted = limitsOf(provider, config.quota_groups);
      const limits = counted ?? { daily_reset_tz: provider.daily_reset_tz };
      // A group member: the group's limits, cool-down and reset, with its own counts and circuit.
      const usage = countedOnly(
        group === undefined ? await tracker.snapshot(limits) : { ...(await tracker.snapshot(limits)), ...(await tracker.memberSnapshot(limits, providerId)) },
        counted,
      );
      // A provider without api_key_secret needs no key, so it counts as present.
      const key = !provider.api_key_secret || (await readSecret(c.env, provider.api_key_secret)).ok ? "present" : "missing";
      return [providerId, { model: provider.model, type: provider.type, key, daily_reset_tz: limits.daily_reset_tz, ...(group !== undefined && { quota_group: group }), ...usage }] as const;
    }),
  );
  const groups = await Promise.all(
    Object.entries(config.quota_groups).map(async ([name, group]) => {
      const members = Object.keys(config.providers).filter((id) => config.providers[id]!.quota_group === name);
      const counted = limitsFrom(group);
      const usage = countedOnly(await stub(groupTrackerName(name)).snapshot(counted ?? group), counted);
      const { day, requests_today, requests_per_day, requests_last_minute, requests_per_minute, tokens_today, tokens_per_day, tokens_last_minute, tokens_per_minute, next_reset, cooldown_until } = usage;
      const counts = { day, requests_today, requests_per_day, requests_last_minute, requests_per_minute, tokens_today, tokens_per_day, tokens_last_minute, tokens_per_minute };
      return [name, { providers: members, ...counts, next_reset, cooldown_until, ...budgetFields(usage), requests_leased: usage.requests_leased, requests_not_given_back: usage.requests_not_given_back }] as const;
    }),
  );
  const clients = await Promise.all(
    Object.entries(config.clients).map(async ([name, client]) => {
      const counted = limitsFrom(client);
      const usage = countedOnly(await stub(clientTrackerName(name)).snapshot(counted ?? {}), counted);
      const { requests_today, requests_per_day, requests_last_minute, requests_per_minute, tokens_today, tokens_per_day, next_reset, checks } = usage;
      const { tokens_last_minute, tokens_per_minute, requests_leased, requests_not_given_back } = usage;
      const entry = {
        routes: client.routes ?? null,
        requests_today, requests_per_day, requests_last_minute, requests_per_minute, tokens_today, tokens_per_day, next_reset, checks,
        tokens_last_minute, tokens_per_minute, ...budgetFields(usage), requests_leased, requests_not_given_back,
      };
      return [name, entry] as const;
    }),
  );
  // `recent`: this isolate's last skips and failovers, newest first (see recent.ts).
  return c.json({
    object: "quota",
    generated_at: new Date().toISOString(),
    providers: Object.fromEntries(providers),
    groups: Object.fromEntries(groups),
    clients: Object.fromEntries(clients),
    recent: recentEvents(),
  });
}
