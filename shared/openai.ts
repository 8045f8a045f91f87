// The OpenAI Chat Completions wire format, as both the edge and the sidecar accept and answer it.
// Request schemas are loose: fields we do not know pass through untouched to the provider.
import * as z from "zod";

const TextPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const ContentPart = z.looseObject({ type: z.string() });
const MessageContent = z.union([z.string(), z.array(ContentPart), z.null()]);

export const ToolCallSchema = z.looseObject({
  id: z.string(),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

export const ChatMessageSchema = z.discriminatedUnion("role", [
  z.looseObject({ role: z.literal("system"), content: MessageContent, name: z.string().optional() }),
  z.looseObject({ role: z.literal("developer"), content: MessageContent, name: z.string().optional() }),
  z.looseObject({ role: z.literal("user"), content: MessageContent, name: z.string().optional() }),
  z.looseObject({
    role: z.literal("assistant"),
    content: MessageContent.optional(),
    name: z.string().optional(),
    tool_calls: z.array(ToolCallSchema).optional(),
    refusal: z.string().nullable().optional(),
  }),
  z.looseObject({ role: z.literal("tool"), content: MessageContent, tool_call_id: z.string() }),
  z.looseObject({ role: z.literal("function"), content: MessageContent, name: z.string() }),
]);

export const FunctionToolSchema = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

export const ToolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string() }) }),
]);

export const ResponseFormatSchema = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("text") }),
  z.looseObject({ type: z.literal("json_object") }),
  z.looseObject({
    type: z.literal("json_schema"),
    json_schema: z.looseObject({
      name: z.string(),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);

export const ChatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(ChatMessageSchema).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  n: z.number().int().positive().nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  tools: z.array(FunctionToolSchema).optional(),
  tool_choice: ToolChoiceSchema.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: ResponseFormatSchema.optional(),
  user: z.string().optional(),
});

export type ChatMessage = z.infer<typeof ChatMessageSchema>;
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;
export type FunctionTool = z.infer<typeof FunctionToolSchema>;
export type ToolChoice = z.infer<typeof ToolChoiceSchema>;
export type ResponseFormat = z.infer<typeof ResponseFormatSchema>;

export const UsageSchema = z.looseObject({
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  total_tokens: z.number(),
});
export type Usage = z.infer<typeof UsageSchema>;

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "function_call";

export type ToolCall = z.infer<typeof ToolCallSchema>;

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: "assistant"; content: string | null; refusal: string | null; tool_calls?: ToolCall[] };
    logprobs: null;
    finish_reason: FinishReason;
  }>;
  usage: Usage;
  system_fingerprint?: string | null;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function?: { name?: string; arguments?: string };
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: "assistant"; content?: string | null; refusal?: string | null; tool_calls?: ToolCallDelta[] };
    logprobs?: null;
    finish_reason: FinishReason | null;
  }>;
  usage?: Usage | null;
  system_fingerprint?: string | null;
}

export interface ModelObject {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

export interface ModelList {
  object: "list";
  data: ModelObject[];
}

/** The text of a message's content, whether a plain string or an array of text parts. */
export function contentText(content: z.infer<typeof MessageContent> | undefined): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  return content
    .map((part) => (TextPart.safeParse(part).success ? (part as z.infer<typeof TextPart>).text : ""))
    .join("");
}
