// The order a route's providers are tried in, by its strategy. Local (local_gguf) providers keep
// their place at the end under every strategy: the last resort stays last.
import type { ProviderConfig, QuotaGroupConfig, RouterConfig, Strategy } from "../../shared/config.ts";
import { limitsOf, trackerName, usageShare } from "../quota/client.ts";

/** A provider's share of first picks under `weighted`: its weight, else its requests_per_day, else 1. */
export function weightOf(provider: ProviderConfig): number {
  return provider.weight ?? provider.requests_per_day ?? 1;
}

/** Weighted order without replacement: each pick is drawn from the providers left, by weight. */
export function weightedOrder(ids: readonly string[], weight: (id: string) => number, random: () => number): string[] {
  const left = [...ids];
  const order: string[] = [];
  while (left.length) {
    let draw = random() * left.reduce((sum, id) => sum + weight(id), 0);
    let index = left.findIndex((id) => (draw -= weight(id)) < 0);
    if (index < 0) index = left.length - 1; // rounding at the top end
    order.push(...left.splice(index, 1));
  }
  return order;
}

/** Fisher-Yates with the given random source. */
function shuffled(ids: readonly string[], random: () => number): string[] {
  const out = [...ids];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Lowest usage share first; ties in random order. */
export function leastUsedOrder(ids: readonly string[], share: (id: string) => number, random: () => number): string[] {
  return shuffled(ids, random).sort((a, b) => share(a) - share(b));
}

/**
 * Today's share of a provider's daily limit as this isolate last heard it from an admit answer
 * (quota/client.ts); 0 without a daily limit, and for a provider not admitted here yet.
 */
export function usageShareOf(providerId: string, provider: ProviderConfig, groups: Readonly<Record<string, QuotaGroupConfig>>): number {
  if (limitsOf(provider, groups)?.requests_per_day === undefined) return 0;
  return usageShare(trackerName(providerId, provider)) ?? 0;
}

/**
 * Lowest estimated cost first; unknown (undefined) after every known one; ties keep config order
 * (Array.prototype.sort is stable).
 */
export function cheapestOrder(ids: readonly string[], cost: (id: string) => number | undefined): string[] {
  const costs = new Map(ids.map((id) => [id, cost(id) ?? Infinity]));
  return [...ids].sort((a, b) => costs.get(a)! - costs.get(b)!);
}

/** `cost` is this request's estimated USD at a provider (chain/plan.ts), for `cheapest`. */
export function orderProviders(
  ids: readonly string[],
  config: RouterConfig,
  strategy: Strategy,
  random: () => number = Math.random,
  cost: (id: string) => number | undefined = () => undefined,
): string[] {
  const provider = (id: string) => config.providers[id]!;
  const cloud = ids.filter((id) => provider(id).type !== "local_gguf");
  const local = ids.filter((id) => provider(id).type === "local_gguf");
  switch (strategy) {
    case "ordered":
      return [...cloud, ...local];
    case "weighted":
      return [...weightedOrder(cloud, (id) => weightOf(provider(id)), random), ...local];
    case "least_used":
      return [...leastUsedOrder(cloud, (id) => usageShareOf(id, provider(id), config.quota_groups), random), ...local];
    case "cheapest":
      return [...cheapestOrder(cloud, cost), ...local];
  }
}
