// What a request reserves before its call, where token budgets and USD budgets count it: the
// prompt estimate (routing/needs.ts) plus its output budget, and that many tokens at the
// provider's price. The answer settles it to the real usage (QuotaClient.settle), so a budget is
// passed by at most what in-flight requests' estimates got wrong (docs/quotas-at-scale.md).
import type { ProviderConfig, RouterConfig } from "../../shared/config.ts";
import type { EmbeddingRequest } from "../../shared/embeddings.ts";
import type { ChatCompletionRequest } from "../../shared/openai.ts";
import { CHARS_PER_TOKEN, estimatePromptTokens, requestedOutputTokens } from "../routing/needs.ts";
import { costUsd } from "../usage/cost.ts";
import type { Need } from "./client.ts";

/** The output budget of a request that sets no max_tokens at a provider without max_output_tokens. */
export const DEFAULT_OUTPUT_RESERVE = 256;

type Body = ChatCompletionRequest | EmbeddingRequest;

/** Prompt tokens: the chat estimate, or an embeddings input's characters (token ids: one each). */
function promptTokens(body: Body, embeddings: boolean): number {
  if (!embeddings) return estimatePromptTokens(body as ChatCompletionRequest);
  const input = (body as EmbeddingRequest).input;
  const items: unknown[] = Array.isArray(input) ? input : [input];
  return items.reduce<number>((sum, item) => {
    if (typeof item === "string") return sum + Math.ceil(item.length / CHARS_PER_TOKEN);
    if (Array.isArray(item)) return sum + item.length;
    return sum + 1;
  }, 0);
}

/** What one call to `provider` reserves: tokens, and USD at its price (0 when unknown). */
export function providerNeed(body: Body, provider: ProviderConfig, embeddings: boolean): Need {
  const prompt = promptTokens(body, embeddings);
  const output = embeddings ? 0 : requestedOutputTokens(body as ChatCompletionRequest, provider) || DEFAULT_OUTPUT_RESERVE;
  return { tokens: prompt + output, usd: costUsd(provider.price, { prompt_tokens: prompt, completion_tokens: output }) ?? 0 };
}

/** What the client reserves for the whole request: the most any provider it may reach would use. */
export function clientNeed(body: Body, config: RouterConfig, order: readonly string[], embeddings: boolean): Need {
  const needs = order.map((id) => providerNeed(body, config.providers[id]!, embeddings));
  return { tokens: Math.max(0, ...needs.map((n) => n.tokens)), usd: Math.max(0, ...needs.map((n) => n.usd)) };
}
