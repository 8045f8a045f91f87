// Translates a validated OpenAI chat request into what the engine runs: node-llama-cpp chat
// history, functions, sampling settings and the response format. Parameters the sidecar cannot
// honour are refused here with a 400 that names them (`param`), never silently ignored.
import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelFunctions, ChatModelResponse, GbnfJsonSchema } from "node-llama-cpp";
import { contentText, type ChatCompletionRequest, type ChatMessage } from "../shared/openai.ts";
import { badRequest, unsupported } from "./errors.ts";
import { answerCheck, toGrammarSchema } from "./json-schema.ts";

export type ResponseFormatPlan =
  | { type: "text" }
  | { type: "json_object" }
  /** `schema` as the grammar takes it; `original` as the client sent it, to check the answer against. */
  | { type: "json_schema"; schema: GbnfJsonSchema; original: Record<string, unknown> };

export interface GenerationPlan {
  history: ChatHistoryItem[];
  functions?: ChatModelFunctions;
  /** Per function name: the check of a finished call's arguments against its parameters as sent. */
  toolChecks?: Record<string, (params: unknown) => void>;
  /** tool_choice "required" or a named function: the answer must be a function call. */
  forceFunctionCall: boolean;
  responseFormat: ResponseFormatPlan;
  maxTokens?: number;
  temperature: number;
  topP?: number;
  seed?: number;
  stop: string[];
  presencePenalty?: number;
  frequencyPenalty?: number;
}

function rejectUnsupportedParameters(request: ChatCompletionRequest): void {
  if (request.n != null && request.n > 1) throw unsupported("n > 1 is not supported by this server; send one request per choice", "n");
  if (request.logprobs) throw unsupported("logprobs are not supported by this server", "logprobs");
  if (request.top_logprobs != null && request.top_logprobs > 0) throw unsupported("top_logprobs are not supported by this server", "top_logprobs");
  if (request["audio"] != null) throw unsupported("audio output is not supported by this server", "audio");
  const modalities = request["modalities"];
  if (Array.isArray(modalities) && modalities.some((m) => m !== "text")) throw unsupported("only text output is supported", "modalities");
}

/** Only text content parts: images, audio and files are refused with the part's path as `param`. */
function messageText(message: ChatMessage, index: number): string {
  const content = message.content;
  if (Array.isArray(content)) {
    const part = content.findIndex((p) => p.type !== "text");
    if (part >= 0)
      throw unsupported(`content parts of type "${content[part]!.type}" are not supported; send text only`, `messages[${index}].content[${part}]`);
  }
  return contentText(content);
}

function toHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  const callsById = new Map<string, ChatModelFunctionCall>();
  messages.forEach((message, index) => {
    switch (message.role) {
      case "system":
      case "developer":
        history.push({ type: "system", text: messageText(message, index) });
        return;
      case "user":
        history.push({ type: "user", text: messageText(message, index) });
        return;
      case "assistant": {
        const response: ChatModelResponse["response"] = [];
        const text = messageText(message, index);
        if (text) response.push(text);
        (message.tool_calls ?? []).forEach((call, callIndex) => {
          let params: unknown;
          try {
            params = call.function.arguments ? JSON.parse(call.function.arguments) : undefined;
          } catch {
            throw badRequest("tool call arguments are not valid JSON", `messages[${index}].tool_calls[${callIndex}].function.arguments`);
          }
          const item: ChatModelFunctionCall = { type: "functionCall", name: call.function.name, params, result: undefined };
          callsById.set(call.id, item);
          response.push(item);
        });
        history.push({ type: "model", response });
        return;
      }
      case "tool": {
        // A tool result belongs to the function call it answers, inside the model's turn.
        const call = callsById.get(message.tool_call_id);
        if (!call) throw badRequest(`no assistant tool call has id "${message.tool_call_id}"`, `messages[${index}].tool_call_id`);
        call.result = messageText(message, index);
        return;
      }
      case "function":
        throw unsupported('the legacy "function" role is not supported; use tool messages', `messages[${index}].role`);
    }
  });
  // Generate a new model turn, unless the last turn is the model's own (a prefill or tool results).
  if (history.at(-1)?.type !== "model") history.push({ type: "model", response: [] });
  return history;
}

function toFunctions(request: ChatCompletionRequest): Pick<GenerationPlan, "functions" | "toolChecks" | "forceFunctionCall"> {
  const choice = request.tool_choice;
  const tools = request.tools ?? [];
  if (tools.length === 0) {
    if (choice === "required" || typeof choice === "object") throw badRequest("tool_choice needs tools", "tool_choice");
    return { forceFunctionCall: false };
  }
  if (choice === "none") return { forceFunctionCall: false };
  let selected = tools;
  if (typeof choice === "object") {
    selected = tools.filter((tool) => tool.function.name === choice.function.name);
    if (selected.length === 0) throw badRequest(`tool_choice names "${choice.function.name}", which is not in tools`, "tool_choice.function.name");
  }
  const functions: Record<string, ChatModelFunctions[string]> = {};
  const toolChecks: Record<string, (params: unknown) => void> = {};
  selected.forEach((tool) => {
    const index = tools.indexOf(tool);
    const parameters = tool.function.parameters;
    functions[tool.function.name] = {
      description: tool.function.description,
      params: parameters === undefined ? undefined : toGrammarSchema(parameters, `tools[${index}].function.parameters`),
    };
    const check = parameters === undefined ? undefined : answerCheck(parameters);
    if (check) toolChecks[tool.function.name] = check;
  });
  return { functions, toolChecks, forceFunctionCall: choice === "required" || typeof choice === "object" };
}

function toResponseFormat(request: ChatCompletionRequest, hasFunctions: boolean): ResponseFormatPlan {
  const format = request.response_format;
  if (!format || format.type === "text") return { type: "text" };
  // node-llama-cpp takes either a grammar or functions for one generation, not both.
  if (hasFunctions) throw unsupported("response_format cannot be combined with tools on this server", "response_format");
  if (format.type === "json_schema" && format.json_schema.schema)
    return {
      type: "json_schema",
      schema: toGrammarSchema(format.json_schema.schema, "response_format.json_schema.schema"),
      original: format.json_schema.schema,
    };
  return { type: "json_object" };
}

export function toGenerationPlan(request: ChatCompletionRequest): GenerationPlan {
  rejectUnsupportedParameters(request);
  const { functions, toolChecks, forceFunctionCall } = toFunctions(request);
  const stop = request.stop == null ? [] : typeof request.stop === "string" ? [request.stop] : request.stop;
  return {
    history: toHistory(request.messages),
    functions,
    toolChecks,
    forceFunctionCall,
    responseFormat: toResponseFormat(request, functions !== undefined),
    maxTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    // OpenAI's default temperature is 1; node-llama-cpp's is 0 (greedy), so always pass one.
    temperature: request.temperature ?? 1,
    topP: request.top_p ?? undefined,
    seed: request.seed ?? undefined,
    stop: stop.filter((s) => s.length > 0),
    presencePenalty: request.presence_penalty ?? undefined,
    frequencyPenalty: request.frequency_penalty ?? undefined,
  };
}
