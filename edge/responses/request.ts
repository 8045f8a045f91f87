// Responses request -> chat completion request: input items become messages, function tools and
// text.format take their chat shapes, and only fields chat completions know go upstream.
import type { ChatCompletionRequest, ChatMessage } from "../../shared/openai.ts";
import type { ResponsesContentPart, ResponsesInputItem, ResponsesRequest } from "../../shared/responses.ts";

/** Fields a Responses request may carry that mean the same in a chat request: passed on as they are. */
const CHAT_FIELDS = [
  "seed",
  "stop",
  "presence_penalty",
  "frequency_penalty",
  "logit_bias",
  "top_logprobs",
  "user",
  "service_tier",
  "prompt_cache_key",
  "safety_identifier",
] as const;

type ChatPart = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string; detail?: string } };

function chatPart(part: ResponsesContentPart): ChatPart {
  if (part.type === "input_image") return { type: "image_url", image_url: { url: part.image_url, ...(part.detail && { detail: part.detail }) } };
  return { type: "text", text: part.type === "refusal" ? part.refusal : part.text };
}

/** Text-only content is a string (what every provider accepts); images need the part array. */
function chatContent(content: ResponsesContentPart[]): string | ChatPart[] {
  const parts = content.map(chatPart);
  return parts.every((part) => part.type === "text") ? parts.map((part) => part.text).join("") : parts;
}

function toMessages(input: ResponsesRequest["input"], instructions: string | null | undefined): ChatMessage[] {
  // developer becomes system: many OpenAI-compatible providers refuse the developer role.
  const messages: ChatMessage[] = instructions ? [{ role: "system", content: instructions }] : [];
  const items: ResponsesInputItem[] = typeof input === "string" ? [{ role: "user", content: [{ type: "input_text", text: input }] }] : input;
  for (const item of items) {
    if (item.type === "reasoning") continue;
    if (item.type === "function_call") {
      const call = { id: item.call_id, type: "function" as const, function: { name: item.name, arguments: item.arguments } };
      const last = messages.at(-1);
      // The function calls of one answer follow its message (if any): they are one assistant turn.
      if (last?.role === "assistant") last.tool_calls = [...(last.tool_calls ?? []), call];
      else messages.push({ role: "assistant", content: null, tool_calls: [call] });
      continue;
    }
    if (item.type === "function_call_output") {
      // The schema reads a string output as one text part, and refuses image and file parts.
      const output = item.output.map((part) => part.text).join("");
      messages.push({ role: "tool", tool_call_id: item.call_id, content: output });
      continue;
    }
    const role = item.role === "developer" ? "system" : item.role;
    messages.push({ role, content: chatContent(item.content) } as ChatMessage);
  }
  return messages;
}

function responseFormat(format: NonNullable<NonNullable<ResponsesRequest["text"]>["format"]>): ChatCompletionRequest["response_format"] {
  if (format.type === "json_schema") {
    const { name, schema, description, strict } = format as { name: string; schema: Record<string, unknown>; description?: string; strict?: boolean | null };
    return { type: "json_schema", json_schema: { name, schema, ...(description !== undefined && { description }), ...(strict != null && { strict }) } };
  }
  return format.type === "json_object" ? { type: "json_object" } : undefined;
}

export function toChatRequest(request: ResponsesRequest): ChatCompletionRequest {
  const chat: ChatCompletionRequest = { model: request.model, messages: toMessages(request.input, request.instructions) };
  for (const field of CHAT_FIELDS) if (request[field] !== undefined) (chat as Record<string, unknown>)[field] = request[field];
  // Responses has no logprobs flag (top_logprobs asks for them); chat providers refuse top_logprobs without it.
  if (request.top_logprobs != null) chat.logprobs = true;
  if (request.tools?.length) {
    chat.tools = request.tools.map((tool) => ({
      type: "function",
      function: {
        name: tool.name,
        ...(tool.description != null && { description: tool.description }),
        ...(tool.parameters != null && { parameters: tool.parameters }),
        ...(tool.strict != null && { strict: tool.strict }),
      },
    }));
  }
  const choice = request.tool_choice;
  if (choice !== undefined) chat.tool_choice = typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } };
  if (request.parallel_tool_calls != null) chat.parallel_tool_calls = request.parallel_tool_calls;
  if (request.max_output_tokens != null) chat.max_tokens = request.max_output_tokens;
  if (request.temperature != null) chat.temperature = request.temperature;
  if (request.top_p != null) chat.top_p = request.top_p;
  const format = request.text?.format && responseFormat(request.text.format);
  if (format) chat.response_format = format;
  if (request.reasoning?.effort) chat.reasoning_effort = request.reasoning.effort;
  if (request.stream) {
    chat.stream = true;
    // The translator needs the usage chunk for response.completed, whatever the client asked.
    chat.stream_options = { include_usage: true };
  }
  return chat;
}
