import type { Price } from "../../shared/config.ts";
import type { Usage } from "../../shared/openai.ts";

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
