// The router's own token estimate for a request whose provider reported no usage: the prompt as
// the plan estimates it (routing/needs.ts) and the answer as counted (the text a stream kept) or,
// not counted, its output budget (an upper bound). Only ever priced with cost_estimated.
import type { ProviderConfig } from "../../shared/config.ts";
import type { EmbeddingRequest } from "../../shared/embeddings.ts";
import type { ChatCompletionRequest } from "../../shared/openai.ts";
import { CHARS_PER_TOKEN, estimatePromptTokens, requestedOutputTokens } from "../routing/needs.ts";

/** Embeddings input: characters of its strings over CHARS_PER_TOKEN, token ids as they are. */
function embeddingTokens(body: EmbeddingRequest): number {
  const inputs: unknown[] = Array.isArray(body.input) ? body.input : [body.input];
  let tokens = 0;
  for (const input of inputs) {
    if (typeof input === "string") tokens += Math.ceil(input.length / CHARS_PER_TOKEN);
    else if (typeof input === "number") tokens += 1;
    else if (Array.isArray(input)) tokens += input.length;
  }
  return tokens;
}

const isChat = (body: ChatCompletionRequest | EmbeddingRequest): body is ChatCompletionRequest => Array.isArray((body as ChatCompletionRequest).messages);

export function estimateTokens(
  body: ChatCompletionRequest | EmbeddingRequest,
  provider: ProviderConfig | undefined,
  countedText?: string,
): { prompt_tokens: number; completion_tokens: number } {
  if (!isChat(body)) return { prompt_tokens: embeddingTokens(body), completion_tokens: 0 };
  const completion = countedText ? Math.ceil(countedText.length / CHARS_PER_TOKEN) : provider ? requestedOutputTokens(body, provider) : 0;
  return { prompt_tokens: estimatePromptTokens(body), completion_tokens: completion };
}
