// The OpenAI Responses API request, as the edge accepts it (stateless): the fields it translates
// onto a chat completion, and a clear 400 naming the param for what needs server state or tools
// only OpenAI can run. Unknown fields are kept (loose) so the translator can pass chat fields on.
import * as z from "zod";

const unsupported = (what: string) => ({ error: () => what });
/** An object of a known `type` that InferRouter cannot translate: its own 400, naming it (input[0].content[1]). */
export const refused = (type: string, why: string) => z.looseObject({ type: z.literal(type) }).pipe(z.never({ error: `${type} ${why}` }));
/** The no-match error of a discriminated union on `type`, saying which type was given. */
export const otherType = (what: string) => ({
  error: (issue: { code?: string; input?: unknown }) =>
    issue.code === "invalid_union" ? `type ${JSON.stringify((issue.input as { type?: unknown })?.type)} is not supported: ${what}` : undefined,
});

/**
 * A string or an array of parts, read as parts (a string is one input_text part, which the chat
 * request joins back into the same string): a union of the two would hide which part is wrong.
 */
const textOrParts = <T extends z.ZodType>(parts: T, what: string) =>
  z.preprocess((value) => (typeof value === "string" ? [{ type: "input_text", text: value }] : value), z.array(parts, { error: `must be a string or an array of ${what}` }));

const InputText = z.looseObject({ type: z.enum(["input_text", "output_text"]), text: z.string() });
const InputRefusal = z.looseObject({ type: z.literal("refusal"), refusal: z.string() });
const InputImage = z.looseObject({
  type: z.literal("input_image"),
  image_url: z.string({ error: "input_image needs image_url: file_id images need OpenAI's file store, which InferRouter does not have" }),
  detail: z.enum(["low", "high", "auto"]).optional(),
});
const NO_FILES = "parts are not supported: InferRouter has no file store and chat completions take no files here";
export const ResponsesContentPartSchema = z.discriminatedUnion("type", [
  InputText,
  InputRefusal,
  InputImage,
  refused("input_file", NO_FILES),
  refused("input_audio", "parts are not supported: the providers InferRouter chains take text and images"),
], otherType("content parts are input_text, output_text, refusal or input_image"));

const MessageItem = z.looseObject({
  type: z.literal("message").optional(),
  role: z.enum(["user", "assistant", "system", "developer"], {
    error: (issue) =>
      `${issue.input === undefined ? "role is required" : `role ${JSON.stringify(issue.input)} is not supported`}: messages are user, assistant, system or developer; a tool's result is a function_call_output item`,
  }),
  content: textOrParts(ResponsesContentPartSchema, "content parts"),
});
const FunctionCallItem = z.looseObject({
  type: z.literal("function_call"),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
});
const TEXT_RESULTS = "parts are not supported in function_call_output: chat completions take only text as a tool's result";
const FunctionCallOutputItem = z.looseObject({
  type: z.literal("function_call_output"),
  call_id: z.string().min(1),
  // Chat tool messages hold text: text parts are joined, image and file parts refused.
  output: textOrParts(z.discriminatedUnion("type", [
    InputText,
    refused("input_image", TEXT_RESULTS),
    refused("input_file", TEXT_RESULTS),
  ], otherType("function_call_output parts are input_text")), "input_text parts"),
});
/** A reasoning item handed back from an earlier answer: chat completions have no place for it, so it is dropped. */
const ReasoningItem = z.looseObject({ type: z.literal("reasoning") });

const OTHER_ITEM = "only message, function_call, function_call_output and reasoning items are supported (InferRouter is stateless and runs no built-in tools)";
export type ResponsesInputItem = z.infer<typeof ResponsesInputItemSchema>;
// On `type` (a message may leave it out), so the chosen item's own issues come out, naming the field.
export const ResponsesInputItemSchema = z.discriminatedUnion("type", [
  MessageItem,
  FunctionCallItem,
  FunctionCallOutputItem,
  ReasoningItem,
], otherType(OTHER_ITEM));

export const ResponsesFunctionToolSchema = z.looseObject({
  type: z.literal("function", {
    error: (issue) => `built-in tools (${String(issue.input)}) are not supported: InferRouter runs only function tools`,
  }),
  name: z.string().min(1),
  description: z.string().nullable().optional(),
  parameters: z.record(z.string(), z.unknown()).nullable().optional(),
  strict: z.boolean().nullable().optional(),
});

const TextFormat = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("text") }),
  z.looseObject({ type: z.literal("json_object") }),
  z.looseObject({
    type: z.literal("json_schema"),
    name: z.string().min(1),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().optional(),
    strict: z.boolean().nullable().optional(),
  }),
]);

const stateless = (param: string) =>
  `${param} is not supported: InferRouter is stateless (store is treated as false); send the whole conversation in input`;

export const ResponsesRequestSchema = z.looseObject({
  model: z.string().min(1),
  // Items are checked one by one (not inside the union) so an error names the item: input[2].
  input: z.union([z.string(), z.array(z.unknown()).min(1)]).transform((input, ctx) => {
    if (typeof input === "string") return input;
    const items: ResponsesInputItem[] = [];
    input.forEach((item, index) => {
      const parsed = ResponsesInputItemSchema.safeParse(item);
      if (parsed.success) items.push(parsed.data);
      else for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: [index, ...issue.path] } as never);
    });
    return items;
  }),
  instructions: z.string().nullable().optional(),
  tools: z.array(ResponsesFunctionToolSchema).optional(),
  tool_choice: z
    .union([z.enum(["none", "auto", "required"]), z.looseObject({ type: z.literal("function"), name: z.string().min(1) })], unsupported("tool_choice must be none, auto, required or {type:\"function\", name}"))
    .optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  max_output_tokens: z.number().int().positive().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  text: z.looseObject({ format: TextFormat.optional() }).nullable().optional(),
  reasoning: z.looseObject({ effort: z.string().nullable().optional() }).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  store: z.boolean().nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  previous_response_id: z.null(unsupported(stateless("previous_response_id"))).optional(),
  conversation: z.null(unsupported(stateless("conversation"))).optional(),
  background: z.literal(false, unsupported("background is not supported: InferRouter answers while the request is open")).nullable().optional(),
});

export type ResponsesRequest = z.infer<typeof ResponsesRequestSchema>;
export type ResponsesContentPart = z.infer<typeof ResponsesContentPartSchema>;
export type ResponsesFunctionTool = z.infer<typeof ResponsesFunctionToolSchema>;
