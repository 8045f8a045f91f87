// The Anthropic Messages API: the request as the edge accepts it (POST /v1/messages), and the
// types of what it answers (message, content blocks, stream events, errors). Shared by the IN
// direction (edge/anthropic/) and the OUT direction (the `anthropic` provider type), so both read
// and write one wire. Request schemas are loose: unknown fields (and cache_control markers) are
// accepted and ignored; what InferRouter cannot run (server tools, documents) is a 400 naming it.
import * as z from "zod";
import { otherType, refused } from "./responses.ts";

/**
 * A string or an array of blocks, read as blocks (a string is one text block): a union of the two
 * would hide which block is wrong (messages[0].content[1]).
 */
const textOrBlocks = <T extends z.ZodType>(blocks: T, what: string) =>
  z.preprocess((value) => (typeof value === "string" ? [{ type: "text", text: value }] : value), z.array(blocks, { error: `must be a string or an array of ${what}` }));

export const AnthropicTextBlockSchema = z.looseObject({ type: z.literal("text"), text: z.string() });
export const AnthropicImageBlockSchema = z.looseObject({
  type: z.literal("image"),
  source: z.discriminatedUnion("type", [
    z.looseObject({ type: z.literal("base64"), media_type: z.string().min(1), data: z.string() }),
    z.looseObject({ type: z.literal("url"), url: z.string().min(1) }),
  ], otherType("image sources are base64 or url (InferRouter has no file store)")),
});
export const AnthropicToolUseBlockSchema = z.looseObject({
  type: z.literal("tool_use"),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.unknown(),
});
export const AnthropicToolResultBlockSchema = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string().min(1),
  content: textOrBlocks(
    z.discriminatedUnion("type", [AnthropicTextBlockSchema, AnthropicImageBlockSchema], otherType("tool_result content is text or image blocks")),
    "text or image blocks",
  ).optional(),
  is_error: z.boolean().optional(),
});
/** Thinking handed back from an earlier answer: chat completions have no place for it, so it is dropped. */
const ThinkingBlock = z.looseObject({ type: z.enum(["thinking", "redacted_thinking"]) });
const NO_DOCS = "blocks are not supported: InferRouter translates onto chat completions, which take text and images";

export const AnthropicContentBlockParamSchema = z.discriminatedUnion("type", [
  AnthropicTextBlockSchema,
  AnthropicImageBlockSchema,
  AnthropicToolUseBlockSchema,
  AnthropicToolResultBlockSchema,
  ThinkingBlock,
  refused("document", NO_DOCS),
  refused("search_result", NO_DOCS),
  refused("server_tool_use", "blocks are not supported: InferRouter runs no server tools"),
  refused("web_search_tool_result", "blocks are not supported: InferRouter runs no server tools"),
], otherType("content blocks are text, image, tool_use, tool_result, thinking or redacted_thinking"));

export const AnthropicMessageParamSchema = z.looseObject({
  // Claude Code sends system messages inside `messages` too (its side requests): taken as text.
  role: z.enum(["user", "assistant", "system"], { error: (issue) => `role ${JSON.stringify(issue.input)} is not supported: messages are user, assistant or system` }),
  content: textOrBlocks(AnthropicContentBlockParamSchema, "content blocks"),
});

/**
 * A custom tool (`type` absent or "custom", with input_schema). Server tools (web_search_20250305,
 * bash_20250124, …) carry a dated `type`: they need Anthropic's own runtime, so the 400 names them.
 */
export const AnthropicToolSchema = z.looseObject({
  type: z
    .string()
    .optional()
    .refine((type) => type === undefined || type === "custom", { error: (issue) => `server tool ${JSON.stringify(issue.input)} is not supported: InferRouter runs only custom tools with input_schema` }),
  name: z.string().min(1),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()),
});

export const AnthropicToolChoiceSchema = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("auto"), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal("any"), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal("tool"), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal("none") }),
], otherType("tool_choice is auto, any, tool or none"));

export const AnthropicRequestSchema = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number().int().positive(),
  messages: z.array(AnthropicMessageParamSchema).min(1),
  system: textOrBlocks(AnthropicTextBlockSchema, "text blocks").optional(),
  tools: z.array(AnthropicToolSchema).optional(),
  tool_choice: AnthropicToolChoiceSchema.optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  stop_sequences: z.array(z.string()).optional(),
  stream: z.boolean().optional(),
  metadata: z.looseObject({ user_id: z.string().nullable().optional() }).optional(),
  thinking: z
    .discriminatedUnion("type", [
      z.looseObject({ type: z.literal("enabled"), budget_tokens: z.number().int().positive() }),
      z.looseObject({ type: z.literal("disabled") }),
      z.looseObject({ type: z.literal("adaptive") }),
    ], otherType("thinking is enabled, disabled or adaptive"))
    .optional(),
});

/** count_tokens takes the request without max_tokens or stream. */
export const AnthropicCountTokensSchema = AnthropicRequestSchema.extend({ max_tokens: z.number().int().positive().optional() });

export type AnthropicRequest = z.infer<typeof AnthropicRequestSchema>;
export type AnthropicCountTokensRequest = z.infer<typeof AnthropicCountTokensSchema>;
export type AnthropicMessageParam = z.infer<typeof AnthropicMessageParamSchema>;
export type AnthropicContentBlockParam = z.infer<typeof AnthropicContentBlockParamSchema>;
export type AnthropicTool = z.infer<typeof AnthropicToolSchema>;
export type AnthropicToolChoice = z.infer<typeof AnthropicToolChoiceSchema>;

// ---- What the Messages API answers ----

export type AnthropicStopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use" | "pause_turn" | "refusal";

export interface AnthropicTextBlock {
  type: "text";
  text: string;
}
export interface AnthropicToolUseBlock {
  type: "tool_use";
  id: string;
  name: string;
  input: unknown;
}
export interface AnthropicThinkingBlock {
  type: "thinking";
  thinking: string;
  signature: string;
}
export type AnthropicContentBlock = AnthropicTextBlock | AnthropicToolUseBlock | AnthropicThinkingBlock;

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

export interface AnthropicMessage {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: AnthropicContentBlock[];
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

export type AnthropicDelta =
  | { type: "text_delta"; text: string }
  | { type: "input_json_delta"; partial_json: string }
  | { type: "thinking_delta"; thinking: string }
  | { type: "signature_delta"; signature: string };

/** The events of a Messages stream, in the order the API sends them. */
export type AnthropicStreamEvent =
  | { type: "message_start"; message: AnthropicMessage }
  | { type: "content_block_start"; index: number; content_block: AnthropicContentBlock }
  | { type: "content_block_delta"; index: number; delta: AnthropicDelta }
  | { type: "content_block_stop"; index: number }
  | { type: "message_delta"; delta: { stop_reason: AnthropicStopReason | null; stop_sequence: string | null }; usage: Partial<AnthropicUsage> & { output_tokens: number } }
  | { type: "message_stop" }
  | { type: "ping" }
  | { type: "error"; error: { type: AnthropicErrorType; message: string } };

export type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error";

export interface AnthropicErrorBody {
  type: "error";
  error: { type: AnthropicErrorType; message: string };
}

export function anthropicError(type: AnthropicErrorType, message: string): AnthropicErrorBody {
  return { type: "error", error: { type, message } };
}

/** The error type Anthropic uses for an HTTP status (529 is its "overloaded"). */
export function anthropicErrorType(status: number): AnthropicErrorType {
  if (status === 400 || status === 422) return "invalid_request_error";
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status === 503 || status === 529) return "overloaded_error";
  if (status < 500 && status >= 400) return "invalid_request_error";
  return "api_error";
}
