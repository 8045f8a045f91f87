// A whole chat completion as a Messages API message: text and tool_use blocks (reasoning as a
// thinking block), the stop reason, usage, an `msg_` id and the route as the model.
import type { AnthropicContentBlock, AnthropicMessage, AnthropicStopReason, AnthropicUsage } from "../../shared/anthropic.ts";
import { reasoningOf, type ChatCompletionJson, type ChatUsage } from "../responses/response.ts";

export const messageId = () => `msg_${crypto.randomUUID().replaceAll("-", "")}`;
export const toolUseId = () => `toolu_${crypto.randomUUID().replaceAll("-", "")}`;

/**
 * A chat finish_reason as a stop_reason. Chat does not say whether "stop" was a stop sequence;
 * providers that do (vLLM's `stop_reason`) name the string, else it is end_turn.
 */
export function stopReason(finishReason: string | null | undefined, matched: unknown, stopSequences: readonly string[] | undefined): { stop_reason: AnthropicStopReason; stop_sequence: string | null } {
  if (finishReason === "length") return { stop_reason: "max_tokens", stop_sequence: null };
  if (finishReason === "tool_calls" || finishReason === "function_call") return { stop_reason: "tool_use", stop_sequence: null };
  if (finishReason === "content_filter") return { stop_reason: "refusal", stop_sequence: null };
  if (typeof matched === "string" && stopSequences?.includes(matched)) return { stop_reason: "stop_sequence", stop_sequence: matched };
  return { stop_reason: "end_turn", stop_sequence: null };
}

export function anthropicUsage(usage: ChatUsage | null | undefined): AnthropicUsage {
  const details = usage?.prompt_tokens_details as { cached_tokens?: number; cache_write_tokens?: number } | undefined;
  const cached = details?.cached_tokens ?? 0;
  const written = details?.cache_write_tokens ?? 0;
  return {
    // Anthropic counts cache reads and writes apart from input_tokens.
    input_tokens: (usage?.prompt_tokens ?? 0) - cached - written,
    output_tokens: usage?.completion_tokens ?? 0,
    cache_creation_input_tokens: written,
    cache_read_input_tokens: cached,
  };
}

/** A tool call's arguments as the `input` object; text that is not a JSON object is kept under `_raw`. */
export function toolInput(args: string): unknown {
  if (args.trim() === "") return {};
  try {
    const input = JSON.parse(args) as unknown;
    return typeof input === "object" && input !== null && !Array.isArray(input) ? input : { _raw: args };
  } catch {
    return { _raw: args };
  }
}

/** The message before any content: what message_start carries (its usage as Anthropic's: the cache counts 0 until known). */
export function messageShell(model: string, inputTokens = 0): AnthropicMessage {
  const usage = { input_tokens: inputTokens, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  return { id: messageId(), type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage };
}

export function fromChatCompletion(model: string, completion: ChatCompletionJson, stopSequences: readonly string[] | undefined): AnthropicMessage {
  const choice = completion.choices[0];
  const message = choice?.message;
  const content: AnthropicContentBlock[] = [];
  const reasoning = reasoningOf(message);
  // The signature only an anthropic provider gives (reasoning_signature); without one a client sending the block back has it dropped.
  const signature = (message as { reasoning_signature?: unknown } | undefined)?.reasoning_signature;
  if (reasoning) content.push({ type: "thinking", thinking: reasoning, signature: typeof signature === "string" ? signature : "" });
  const text = message?.content || message?.refusal;
  if (text) content.push({ type: "text", text });
  for (const call of message?.tool_calls ?? []) {
    content.push({ type: "tool_use", id: call.id || toolUseId(), name: call.function.name, input: toolInput(call.function.arguments) });
  }
  return { ...messageShell(model), content, ...stopReason(choice?.finish_reason, choice?.stop_reason, stopSequences), usage: anthropicUsage(completion.usage) };
}
