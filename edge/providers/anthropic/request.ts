// A chat completions request as an Anthropic Messages body (the OUT direction of `type =
// "anthropic"`): system and developer messages become `system`, tool calls and tool results become
// tool_use / tool_result blocks, image parts image blocks, and max_tokens (which Messages requires)
// comes from the request, else the provider's max_output_tokens, else DEFAULT_ANTHROPIC_MAX_TOKENS.
// What Messages has no field for (n, seed, penalties, logprobs, response_format) is not sent;
// docs/providers.md lists it.
import type { AnthropicContentBlockParam, AnthropicMessageParam, AnthropicRequest, AnthropicTool, AnthropicToolChoice } from "../../../shared/anthropic.ts";
import { toolInput } from "../../anthropic/response.ts";
import { DEFAULT_ANTHROPIC_MAX_TOKENS, type ProviderConfig } from "../../../shared/config.ts";
import type { ChatCompletionRequest, ChatMessage, FunctionTool, ToolChoice } from "../../../shared/openai.ts";

type Part = { type: string; [key: string]: unknown };
type ToolResultContent = Extract<AnthropicContentBlockParam, { type: "tool_result" }>["content"];

/** Messages fields a chat client may send as they are (the Anthropic SDK's extras, e.g. through extra_body). */
const NATIVE_FIELDS = ["top_k", "thinking", "metadata"] as const;

/** The Messages body (anthropicBody in upstream.ts trims its prefill and caps its temperature). */
export function toMessagesBody(request: ChatCompletionRequest, provider: ProviderConfig): AnthropicRequest {
  const system: string[] = [];
  const messages: AnthropicMessageParam[] = [];
  for (const message of request.messages) {
    if (message.role === "system" || message.role === "developer") {
      // Messages has one system prompt, before the turns: every system message goes there, in order.
      system.push(textOf(message.content));
      continue;
    }
    push(messages, roleOf(message), blocksOf(message));
  }
  const body: AnthropicRequest = {
    model: provider.model,
    max_tokens: request.max_completion_tokens ?? request.max_tokens ?? provider.max_output_tokens ?? DEFAULT_ANTHROPIC_MAX_TOKENS,
    messages,
  };
  if (system.length) body.system = [{ type: "text", text: system.join("\n\n") }];
  if (request.temperature != null) body.temperature = request.temperature;
  if (request.top_p != null) body.top_p = request.top_p;
  if (request.stop != null) body.stop_sequences = typeof request.stop === "string" ? [request.stop] : request.stop;
  if (request.stream) body.stream = true;
  if (request.user) body.metadata = { user_id: request.user };
  // tool_choice none keeps the tools: Messages refuses tool_use blocks in a request without them.
  if (request.tools?.length) {
    body.tools = request.tools.map(toTool);
    const choice = toToolChoice(request.tool_choice, request.parallel_tool_calls);
    if (choice) body.tool_choice = choice;
  }
  const extra = request as Record<string, unknown>;
  for (const field of NATIVE_FIELDS) if (extra[field] !== undefined) (body as Record<string, unknown>)[field] = extra[field];
  return body;
}

function roleOf(message: ChatMessage): "user" | "assistant" {
  return message.role === "assistant" ? "assistant" : "user";
}

/** Adds a turn; consecutive turns of one role (tool results, then the user's words) become one, as Messages alternates roles. */
function push(messages: AnthropicMessageParam[], role: "user" | "assistant", blocks: AnthropicContentBlockParam[]): void {
  if (!blocks.length) return;
  const last = messages.at(-1);
  if (last?.role === role) last.content.push(...blocks);
  else messages.push({ role, content: blocks });
}

function blocksOf(message: ChatMessage): AnthropicContentBlockParam[] {
  switch (message.role) {
    case "tool":
      // A tool's result holds text and images only: what chat's tool message carries.
      return [{ type: "tool_result", tool_use_id: message.tool_call_id, content: contentBlocks(message.content) as ToolResultContent }];
    case "function":
      return [{ type: "text", text: `${message.name}: ${textOf(message.content)}` }];
    case "assistant": {
      const blocks = contentBlocks(message.content ?? null);
      if (message.refusal) blocks.push({ type: "text", text: message.refusal });
      for (const call of message.tool_calls ?? []) {
        blocks.push({ type: "tool_use", id: call.id, name: call.function.name, input: toolInput(call.function.arguments) });
      }
      return blocks;
    }
    default:
      return contentBlocks(message.content);
  }
}

function contentBlocks(content: ChatMessage["content"] | undefined): AnthropicContentBlockParam[] {
  if (content == null) return [];
  if (typeof content === "string") return content ? [{ type: "text", text: content }] : [];
  return (content as Part[]).flatMap((part): AnthropicContentBlockParam[] => {
    if (part.type === "text") return part.text ? [{ type: "text", text: String(part.text) }] : [];
    if (part.type === "image_url") return [imageBlock(part.image_url)];
    // Anything else (audio, files) is sent as it came: upstream says whether it takes it.
    return [part as unknown as AnthropicContentBlockParam];
  });
}

/** An image part: a data: URL becomes a base64 source, any other URL a url source. */
function imageBlock(imageUrl: unknown): AnthropicContentBlockParam {
  const url = typeof imageUrl === "string" ? imageUrl : String((imageUrl as { url?: unknown } | undefined)?.url ?? "");
  const data = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (data) return { type: "image", source: { type: "base64", media_type: data[1]!, data: data[2]! } };
  return { type: "image", source: { type: "url", url } };
}

function textOf(content: ChatMessage["content"] | undefined): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  return (content as Part[]).flatMap((part) => (part.type === "text" ? [String(part.text)] : [])).join("\n");
}

/**
 * Trims the end of a trailing assistant turn's last text (Messages refuses a prefill that ends in
 * whitespace); returns what was cut. The turn is replaced, not changed: a pass-through's messages
 * are the client's, sent again to the next provider of the chain.
 */
export function trimPrefill(messages: AnthropicMessageParam[]): string {
  const last = messages.at(-1);
  const block = last?.role === "assistant" ? last.content.at(-1) : undefined;
  if (block?.type !== "text") return "";
  const text = block.text.trimEnd();
  const cut = block.text.slice(text.length);
  if (!cut) return "";
  // Anthropic refuses an empty text block too: a prefill of whitespace alone is left out.
  const content = text ? [...last!.content.slice(0, -1), { ...block, text }] : last!.content.slice(0, -1);
  if (content.length) messages[messages.length - 1] = { ...last!, content };
  else messages.pop();
  return cut;
}

function toTool(tool: FunctionTool): AnthropicTool {
  const { name, description, parameters } = tool.function;
  return { name, ...(description && { description }), input_schema: parameters ?? { type: "object", properties: {} } };
}

function toToolChoice(choice: ToolChoice | undefined, parallel: boolean | undefined): AnthropicToolChoice | undefined {
  const single = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined || choice === "auto") return parallel === false ? { type: "auto", ...single } : undefined;
  if (choice === "required") return { type: "any", ...single };
  if (choice === "none") return { type: "none" };
  return { type: "tool", name: choice.function.name, ...single };
}
