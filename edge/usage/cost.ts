import type { Price } from "../../shared/config.ts";
import type { Usage } from "../../shared/openai.ts";

/** Rounded to a nano-dollar for showing: float sums of many small costs otherwise read 0.30000000000000004. */
export const roundUsd = (usd: number) => Math.round(usd * 1e9) / 1e9;

/** Cached prompt tokens as OpenAI reports them (`prompt_tokens_details.cached_tokens`), 0 when absent. */
function cachedTokens(usage: Usage): number {
  const details = (usage as { prompt_tokens_details?: { cached_tokens?: unknown } }).prompt_tokens_details;
  const cached = details?.cached_tokens;
  return typeof cached === "number" && cached > 0 ? Math.min(cached, usage.prompt_tokens) : 0;
}

/** USD an answer cost at `price`; undefined when the price is unknown. */
export function costUsd(price: Price | undefined, usage: Pick<Usage, "prompt_tokens" | "completion_tokens"> & Partial<Usage>): number | undefined {
  if (!price) return undefined;
  const cached = cachedTokens(usage as Usage);
  const cachedRate = price.cached_input_per_mtok ?? price.input_per_mtok;
  const micro = (usage.prompt_tokens - cached) * price.input_per_mtok + cached * cachedRate + usage.completion_tokens * price.output_per_mtok;
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
