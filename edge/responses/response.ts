// The Responses API response object: its always-present fields (as the openai SDK's types mark
// them), output items, usage, and the translation of a whole chat completion into one.
import type { ResponsesRequest } from "../../shared/responses.ts";

export type ResponseStatus = "in_progress" | "completed" | "incomplete" | "failed";

export interface Logprob {
  token: string;
  bytes: number[];
  logprob: number;
  top_logprobs: Array<{ token: string; bytes: number[]; logprob: number }>;
}
export interface OutputText {
  type: "output_text";
  text: string;
  annotations: never[];
  logprobs: Logprob[];
}
export interface MessageItem {
  id: string;
  type: "message";
  role: "assistant";
  status: "in_progress" | "completed" | "incomplete";
  content: Array<OutputText | { type: "refusal"; refusal: string }>;
}
export interface FunctionCallItem {
  id: string;
  type: "function_call";
  call_id: string;
  name: string;
  arguments: string;
  status: "in_progress" | "completed" | "incomplete";
}
export interface ReasoningItem {
  id: string;
  type: "reasoning";
  summary: never[];
  content: Array<{ type: "reasoning_text"; text: string }>;
  status: "in_progress" | "completed" | "incomplete";
}
export type OutputItem = MessageItem | FunctionCallItem | ReasoningItem;

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  status: ResponseStatus;
  completed_at: number | null;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: "max_output_tokens" | "content_filter" } | null;
  instructions: string | null;
  metadata: Record<string, string> | null;
  model: string;
  output: OutputItem[];
  output_text: string;
  parallel_tool_calls: boolean;
  temperature: number | null;
  top_p: number | null;
  tool_choice: unknown;
  tools: unknown[];
  access_programs: null;
  background: false;
  max_output_tokens: number | null;
  previous_response_id: null;
  reasoning: { effort: string | null; summary: null };
  store: false;
  text: { format: unknown };
  truncation: "disabled";
  usage: ResponseUsage | null;
}

/** Chat usage as the chat answer reports it (details are optional and provider-specific). */
export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}

const hex = () => crypto.randomUUID().replaceAll("-", "");
export const newId = (prefix: "resp" | "msg" | "fc" | "rs") => `${prefix}_${hex()}`;

export function responseUsage(usage: ChatUsage | undefined | null): ResponseUsage | null {
  if (!usage) return null;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0, cache_write_tokens: (usage.prompt_tokens_details as { cache_write_tokens?: number } | undefined)?.cache_write_tokens ?? 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: usage.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage.total_tokens,
  };
}

/** The response before any output: what `response.created` carries, and the base of every later state. */
export function responseShell(request: ResponsesRequest, id = newId("resp"), createdAt = Math.floor(Date.now() / 1000)): ResponseObject {
  return {
    id,
    object: "response",
    created_at: createdAt,
    status: "in_progress",
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    metadata: request.metadata ?? null,
    model: request.model,
    output: [],
    output_text: "",
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    temperature: request.temperature ?? null,
    top_p: request.top_p ?? null,
    tool_choice: request.tool_choice ?? "auto",
    tools: (request.tools ?? []).map((tool) => ({
      type: "function",
      name: tool.name,
      description: tool.description ?? null,
      parameters: tool.parameters ?? null,
      strict: tool.strict ?? null,
    })),
    access_programs: null,
    background: false,
    max_output_tokens: request.max_output_tokens ?? null,
    previous_response_id: null,
    reasoning: { effort: request.reasoning?.effort ?? null, summary: null },
    store: false,
    text: { format: request.text?.format ?? { type: "text" } },
    truncation: "disabled",
    usage: null,
  };
}

/** What a chat finish_reason means for the response: length and content_filter stop it short. */
export function finishStatus(finishReason: string | null | undefined): Pick<ResponseObject, "status" | "incomplete_details"> {
  if (finishReason === "length") return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (finishReason === "content_filter") return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  return { status: "completed", incomplete_details: null };
}

/** The response in its final state: status from the finish reason, output_text, usage. */
export function finalize(response: ResponseObject, finishReason: string | null | undefined, usage: ChatUsage | undefined | null): ResponseObject {
  const finish = finishStatus(finishReason);
  return {
    ...response,
    ...finish,
    completed_at: finish.status === "completed" ? Math.floor(Date.now() / 1000) : null,
    output_text: outputText(response.output),
    usage: responseUsage(usage),
  };
}

export function outputText(output: OutputItem[]): string {
  return output
    .flatMap((item) => (item.type === "message" ? item.content : []))
    .map((part) => (part.type === "output_text" ? part.text : ""))
    .join("");
}

export const textPart = (text: string, logprobs: Logprob[] = []): OutputText => ({ type: "output_text", text, annotations: [], logprobs });

/** A chat choice's token logprobs (there when the request had top_logprobs) in the Responses shape. */
export interface ChatLogprobs {
  content?: Array<{ token: string; logprob: number; bytes?: number[] | null; top_logprobs?: Array<{ token: string; logprob: number; bytes?: number[] | null }> }> | null;
}
export function responseLogprobs(logprobs: ChatLogprobs | null | undefined): Logprob[] {
  return (logprobs?.content ?? []).map(({ token, logprob, bytes, top_logprobs }) => ({
    token,
    bytes: bytes ?? [],
    logprob,
    top_logprobs: (top_logprobs ?? []).map((top) => ({ token: top.token, bytes: top.bytes ?? [], logprob: top.logprob })),
  }));
}

/** The reasoning text a provider sends with its answer, under either name in use. */
export function reasoningOf(message: { reasoning_content?: unknown; reasoning?: unknown } | undefined): string | undefined {
  const text = message?.reasoning_content ?? message?.reasoning;
  return typeof text === "string" && text !== "" ? text : undefined;
}

/** A whole chat completion, as far as the translators read it. */
export interface ChatCompletionJson {
  choices: Array<{
    finish_reason?: string | null;
    /** vLLM: the stop string that ended the answer. */
    stop_reason?: unknown;
    logprobs?: ChatLogprobs | null;
    message?: {
      content?: string | null;
      refusal?: string | null;
      reasoning_content?: unknown;
      reasoning?: unknown;
      // answer-shape.ts has checked each call's function; an id is not required (the stream's too).
      tool_calls?: Array<{ id?: string; function: { name: string; arguments: string } }> | null;
    };
  }>;
  usage?: ChatUsage;
}

/** A whole chat completion as a response object. */
export function fromChatCompletion(request: ResponsesRequest, completion: ChatCompletionJson): ResponseObject {
  const choice = completion.choices[0];
  const message = choice?.message;
  const itemStatus = finishStatus(choice?.finish_reason).status === "completed" ? "completed" : "incomplete";
  const output: OutputItem[] = [];
  const reasoning = reasoningOf(message);
  if (reasoning) output.push({ id: newId("rs"), type: "reasoning", summary: [], content: [{ type: "reasoning_text", text: reasoning }], status: itemStatus });
  const content: MessageItem["content"] = [];
  if (message?.content) content.push(textPart(message.content, responseLogprobs(choice?.logprobs)));
  if (message?.refusal) content.push({ type: "refusal", refusal: message.refusal });
  if (content.length) output.push({ id: newId("msg"), type: "message", role: "assistant", status: itemStatus, content });
  for (const call of message?.tool_calls ?? []) {
    output.push({ id: newId("fc"), type: "function_call", call_id: call.id ?? newId("fc"), name: call.function.name, arguments: call.function.arguments, status: itemStatus });
  }
  return finalize({ ...responseShell(request), output }, choice?.finish_reason, completion.usage);
}
