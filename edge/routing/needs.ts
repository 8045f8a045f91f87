// What a request needs from a provider, read from the body alone (no tokenizer in the Worker):
// the capabilities it uses and a cheap estimate of its size, for the plan's skips (chain/plan.ts).
import { capabilitiesOf, type Capability, type ProviderConfig } from "../../shared/config.ts";
import type { ChatCompletionRequest } from "../../shared/openai.ts";

/**
 * Characters per token of the estimate. About what BPE tokenizers give for English prose; code,
 * numbers and non-Latin scripts take more tokens per character, so for them the estimate is low.
 * An estimate that errs low skips a provider only when the prompt is clearly too long for it; a
 * borderline one is sent, and the provider's own ContextLengthExceeded moves the walk on.
 */
export const CHARS_PER_TOKEN = 4;

/** The capabilities the request uses: tools (or tool messages), image parts, a JSON schema. */
export function neededCapabilities(body: ChatCompletionRequest): Capability[] {
  const needs = new Set<Capability>();
  const extra = body as Record<string, unknown>;
  if (body.tools?.length || (Array.isArray(extra.functions) && extra.functions.length)) needs.add("tools");
  for (const message of body.messages) {
    if (message.role === "tool" || message.role === "function" || (message.role === "assistant" && message.tool_calls?.length)) needs.add("tools");
    if (Array.isArray(message.content) && message.content.some((part) => part.type === "image_url" || part.type === "input_image" || part.type === "image")) {
      needs.add("vision");
    }
  }
  if (body.response_format?.type === "json_schema") needs.add("json_schema");
  return [...needs];
}

/** Needed capabilities the provider lacks, in the order they were found. */
export function missingCapabilities(needs: readonly Capability[], provider: ProviderConfig): Capability[] {
  const has = capabilitiesOf(provider);
  return needs.filter((capability) => !has.has(capability));
}

/**
 * Estimated prompt tokens: the characters of every text the model reads (message text, tool calls'
 * names and arguments, tool definitions, a response schema) over CHARS_PER_TOKEN, rounded up.
 * Images are not counted (their cost depends on the provider).
 */
export function estimatePromptTokens(body: ChatCompletionRequest): number {
  let chars = 0;
  for (const message of body.messages) {
    const content = message.content;
    if (typeof content === "string") chars += content.length;
    else if (Array.isArray(content)) for (const part of content) if (typeof part.text === "string") chars += part.text.length;
    if (message.role === "assistant") for (const call of message.tool_calls ?? []) chars += call.function.name.length + call.function.arguments.length;
  }
  if (body.tools?.length) chars += JSON.stringify(body.tools).length;
  if (body.response_format?.type === "json_schema") chars += JSON.stringify(body.response_format.json_schema).length;
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

/**
 * Tokens the answer may take at this provider: the operator's override, else the client's
 * max_completion_tokens / max_tokens, else the operator's default, else the provider's
 * max_output_tokens, else nothing; never more than max_output_tokens (what is sent is capped to it).
 */
export function requestedOutputTokens(body: ChatCompletionRequest, provider: ProviderConfig): number {
  const read = (fields: Record<string, unknown> | undefined) => {
    const value = fields?.max_completion_tokens ?? fields?.max_tokens;
    return typeof value === "number" && value > 0 ? value : undefined;
  };
  const asked = read(provider.body_overrides) ?? read(body as Record<string, unknown>) ?? read(provider.body_defaults);
  const cap = provider.max_output_tokens;
  if (asked === undefined) return cap ?? 0;
  return cap === undefined ? asked : Math.min(asked, cap);
}

export type Unfit =
  | { reason: "capability"; missing: Capability[] }
  | { reason: "context"; promptTokens: number; outputTokens: number; contextWindow: number };

/** Why this provider cannot take the request, or undefined when it can. */
export function unfitFor(body: ChatCompletionRequest, needs: readonly Capability[], promptTokens: number, provider: ProviderConfig): Unfit | undefined {
  const missing = missingCapabilities(needs, provider);
  if (missing.length) return { reason: "capability", missing };
  if (provider.context_window === undefined) return undefined;
  // The sidecar shortens the answer to the room its context has left, so at a local_gguf provider
  // only the prompt (and one token of answer) must fit: Claude Code asks for 32000+ every turn.
  const outputTokens = provider.type === "local_gguf" ? 1 : requestedOutputTokens(body, provider);
  if (promptTokens + outputTokens <= provider.context_window) return undefined;
  return { reason: "context", promptTokens, outputTokens, contextWindow: provider.context_window };
}
