// An Anthropic Messages answer as a chat completion: text blocks become `content`, tool_use blocks
// `tool_calls` (input as JSON arguments), thinking blocks `reasoning_content` (the last one's
// signature as `reasoning_signature`), stop_reason
// `finish_reason`, and usage OpenAI's (prompt_tokens counts cached and cache-written tokens too, as
// OpenAI's does; the cache reads are prompt_tokens_details.cached_tokens).
import type { AnthropicMessage, AnthropicStopReason, AnthropicUsage } from "../../../shared/anthropic.ts";
import type { FinishReason, ToolCall, Usage } from "../../../shared/openai.ts";

const FINISH_REASONS: Record<AnthropicStopReason, FinishReason> = {
  end_turn: "stop",
  stop_sequence: "stop",
  pause_turn: "stop",
  max_tokens: "length",
  tool_use: "tool_calls",
  refusal: "content_filter",
};

/** The chat finish_reason of a stop_reason (an unknown one, e.g. model_context_window_exceeded: length). */
export function finishReasonOf(stop: string | null | undefined): FinishReason | null {
  if (stop == null) return null;
  return FINISH_REASONS[stop as AnthropicStopReason] ?? "length";
}

/** Chat usage of a Messages usage: prompt_tokens counts cache reads and writes too, each also named apart (OpenRouter's names). */
export function usageOf(usage: Partial<AnthropicUsage> | undefined): Usage & { prompt_tokens_details: { cached_tokens: number; cache_write_tokens: number } } {
  const cached = usage?.cache_read_input_tokens ?? 0;
  const written = usage?.cache_creation_input_tokens ?? 0;
  const prompt = (usage?.input_tokens ?? 0) + cached + written;
  const completion = usage?.output_tokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached, cache_write_tokens: written } };
}

/** The chat completion of a Messages answer; undefined when the answer is not a message (the attempt calls that malformed). */
export function fromMessage(message: AnthropicMessage, created = Math.floor(Date.now() / 1000)) {
  if (message?.type !== "message" || !Array.isArray(message.content)) return undefined;
  let content = "";
  let reasoning = "";
  let signature = "";
  const toolCalls: ToolCall[] = [];
  for (const block of message.content) {
    if (block.type === "text") content += block.text;
    else if (block.type === "thinking") {
      reasoning += block.thinking;
      signature = block.signature;
    }
    else if (block.type === "tool_use") {
      toolCalls.push({ id: block.id, type: "function", function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  return {
    id: message.id,
    object: "chat.completion" as const,
    created,
    model: message.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant" as const,
          content: content || (toolCalls.length ? null : ""),
          refusal: null,
          ...(reasoning && { reasoning_content: reasoning }),
          // Not a chat field: what edge/anthropic/ gives a Messages client back, so its thinking block stays valid.
          ...(signature && { reasoning_signature: signature }),
          ...(toolCalls.length && { tool_calls: toolCalls }),
        },
        logprobs: null,
        finish_reason: finishReasonOf(message.stop_reason) ?? "stop",
        // The stop sequence that matched, where vLLM puts it: a Messages client gets it back.
        ...(message.stop_sequence && { stop_reason: message.stop_sequence }),
      },
    ],
    usage: usageOf(message.usage),
  };
}
