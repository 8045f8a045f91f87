// Messages request -> chat completion request: system and content blocks become chat messages,
// tool_use / tool_result become tool_calls / tool messages, custom tools and tool_choice take their
// chat shapes. What chat has no place for is dropped: thinking blocks in history, cache_control.
import type { AnthropicContentBlockParam, AnthropicCountTokensRequest, AnthropicRequest } from "../../shared/anthropic.ts";
import type { ChatCompletionRequest, ChatMessage, ToolCall } from "../../shared/openai.ts";

type ChatPart = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string } };
type Block<T extends AnthropicContentBlockParam["type"]> = Extract<AnthropicContentBlockParam, { type: T }>;
type ImageBlock = Block<"image">;

function imageUrl(block: ImageBlock): string {
  const source = block.source;
  return source.type === "url" ? source.url : `data:${source.media_type};base64,${source.data}`;
}

/** Text-only content is a string (what every provider accepts); images need the part array. */
function chatContent(parts: ChatPart[]): string | ChatPart[] {
  return parts.every((part) => part.type === "text") ? parts.map((part) => part.text).join("") : parts;
}

/** The text blocks of `blocks`, joined (images, tool blocks and thinking are not text). */
const textOf = (blocks: readonly { type: string; text?: string }[], separator: string) =>
  blocks.flatMap((block) => (block.type === "text" && block.text !== undefined ? [block.text] : [])).join(separator);

const chatPart = (block: Block<"text"> | ImageBlock): ChatPart =>
  block.type === "text" ? { type: "text", text: block.text } : { type: "image_url", image_url: { url: imageUrl(block) } };

/**
 * A tool_result as a chat tool message. Chat tool messages hold text: the text blocks are joined,
 * an error is marked in the text (chat has no is_error), and images follow as a user message.
 */
function toolResult(block: Block<"tool_result">): ChatMessage[] {
  const blocks = block.content ?? [];
  const text = textOf(blocks, "\n");
  const images = blocks.filter((part) => part.type === "image").map(chatPart);
  const messages: ChatMessage[] = [{ role: "tool", tool_call_id: block.tool_use_id, content: block.is_error ? `Error: ${text}` : text }];
  if (images.length) messages.push({ role: "user", content: images });
  return messages;
}

function toMessages(request: AnthropicCountTokensRequest): ChatMessage[] {
  const messages: ChatMessage[] = [];
  const system = request.system && textOf(request.system, "\n");
  if (system) messages.push({ role: "system", content: system });
  for (const message of request.messages) {
    if (message.role === "assistant") {
      const text = textOf(message.content, "");
      const calls: ToolCall[] = message.content.flatMap((block) =>
        block.type === "tool_use" ? [{ id: block.id, type: "function" as const, function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } }] : [],
      );
      // Thinking blocks are dropped: chat completions take no reasoning in history.
      if (!text && !calls.length) continue;
      messages.push({ role: "assistant", content: text || null, ...(calls.length && { tool_calls: calls }) });
      continue;
    }
    if (message.role === "system") {
      const text = textOf(message.content, "\n");
      if (text) messages.push({ role: "system", content: text });
      continue;
    }
    // A user turn: tool results first (chat wants them right after the assistant's calls), then its content.
    let parts: ChatPart[] = [];
    const flush = () => {
      if (parts.length) messages.push({ role: "user", content: chatContent(parts) });
      parts = [];
    };
    for (const block of message.content) {
      if (block.type === "tool_result") {
        flush();
        messages.push(...toolResult(block));
      } else if (block.type === "text" || block.type === "image") parts.push(chatPart(block));
    }
    flush();
  }
  return messages;
}

/** thinking.budget_tokens as chat's reasoning_effort: the nearest of its three levels. */
function reasoningEffort(budget: number): string {
  if (budget < 4096) return "low";
  return budget < 16384 ? "medium" : "high";
}

function toolChoice(choice: NonNullable<AnthropicRequest["tool_choice"]>): ChatCompletionRequest["tool_choice"] {
  if (choice.type === "any") return "required";
  if (choice.type === "tool") return { type: "function", function: { name: choice.name } };
  return choice.type;
}

export function toChatRequest(request: AnthropicRequest | AnthropicCountTokensRequest): ChatCompletionRequest {
  const chat: ChatCompletionRequest = { model: request.model, messages: toMessages(request) };
  if (request.max_tokens !== undefined) chat.max_tokens = request.max_tokens;
  if (request.temperature !== undefined) chat.temperature = request.temperature;
  if (request.top_p !== undefined) chat.top_p = request.top_p;
  // Not an OpenAI field, but what vLLM, llama.cpp, OpenRouter and the sidecar read (drop_fields removes it).
  if (request.top_k !== undefined) (chat as Record<string, unknown>).top_k = request.top_k;
  // Chat takes at most 4 stop sequences.
  if (request.stop_sequences?.length) chat.stop = request.stop_sequences.slice(0, 4);
  if (request.metadata?.user_id) chat.user = request.metadata.user_id;
  if (request.tools?.length) {
    chat.tools = request.tools.map((tool) => ({
      type: "function",
      function: { name: tool.name, ...(tool.description !== undefined && { description: tool.description }), parameters: tool.input_schema },
    }));
    if (request.tool_choice) {
      chat.tool_choice = toolChoice(request.tool_choice);
      if ("disable_parallel_tool_use" in request.tool_choice && request.tool_choice.disable_parallel_tool_use) chat.parallel_tool_calls = false;
    }
  }
  if (request.thinking?.type === "enabled") chat.reasoning_effort = reasoningEffort(request.thinking.budget_tokens);
  if (request.stream) {
    chat.stream = true;
    // The translator needs the usage chunk for message_delta, whatever the client asked.
    chat.stream_options = { include_usage: true };
  }
  return chat;
}
