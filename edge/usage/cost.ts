import type { Price } from "../../shared/config.ts";
import type { Usage } from "../../shared/openai.ts";

/** Rounded to a nano-dollar for showing: float sums of many small costs otherwise read 0.30000000000000004. */
export const roundUsd = (usd: number) => Math.round(usd * 1e9) / 1e9;

/**
 * Prompt tokens read from and written to the provider's cache, as OpenAI (`cached_tokens`) and
 * OpenRouter (`cache_write_tokens`) report them in `prompt_tokens_details` (an `anthropic`
 * provider's cache_read / cache_creation counts are translated into the same); 0 when absent.
 */
function cacheTokens(usage: Usage): { read: number; write: number } {
  const details = (usage as { prompt_tokens_details?: { cached_tokens?: unknown; cache_write_tokens?: unknown } }).prompt_tokens_details;
  const count = (value: unknown, most: number) => (typeof value === "number" && value > 0 ? Math.min(value, most) : 0);
  const read = count(details?.cached_tokens, usage.prompt_tokens);
  return { read, write: count(details?.cache_write_tokens, usage.prompt_tokens - read) };
}

/** USD an answer cost at `price`; undefined when the price is unknown. */
export function costUsd(price: Price | undefined, usage: Pick<Usage, "prompt_tokens" | "completion_tokens"> & Partial<Usage>): number | undefined {
  if (!price) return undefined;
  const cache = cacheTokens(usage as Usage);
  const readRate = price.cached_input_per_mtok ?? price.input_per_mtok;
  const writeRate = price.cache_write_per_mtok ?? price.input_per_mtok;
  const fresh = usage.prompt_tokens - cache.read - cache.write;
  const micro = fresh * price.input_per_mtok + cache.read * readRate + cache.write * writeRate + usage.completion_tokens * price.output_per_mtok;
  return micro / 1_000_000;
}

/** One provider's share of an answer: its price, the usage it reported, and the router's estimate. */
export interface CostPart {
  price: Price | undefined;
  usage: Usage | undefined;
  /** Tokens the router estimates when the provider reported no usage (prompt estimate, output counted). */
  estimate: () => { prompt_tokens: number; completion_tokens: number };
}

/**
 * The terminal line's cost fields: the sum of every part (a continued stream has two), from usage
 * where reported, else from the estimate with `cost_estimated`. Null when a price is unknown.
 */
export function answerCost(parts: readonly CostPart[]): { cost_usd: number | null; cost_estimated?: true } {
  let total = 0;
  let estimated = false;
  for (const part of parts) {
    if (!part.usage) estimated = true;
    const tokens = part.usage ? { ...part.usage, completion_tokens: part.usage.completion_tokens ?? 0 } : part.estimate();
    const usd = costUsd(part.price, tokens);
    if (usd === undefined) return { cost_usd: null };
    total += usd;
  }
  return { cost_usd: total, ...(estimated && { cost_estimated: true }) };
}
