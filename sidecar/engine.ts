// node-llama-cpp behind the HTTP API: one context with --parallel sequences, a bounded queue in
// front of them, chat generation with the model's own chat template, function calls returned
// (never executed), grammars for response_format, and exact token usage.
import { randomBytes } from "node:crypto";
import {
  LlamaChat,
  LlamaText,
  resolveChatWrapper,
  type ChatWrapper,
  type ChatWrapperGeneratedContextState,
  type LlamaContext,
  type LlamaContextSequence,
  type LLamaContextualRepeatPenalty,
} from "node-llama-cpp";
import type { Usage } from "../shared/openai.ts";
import { badRequest } from "./errors.ts";
import { GrammarCache, type JsonConstraint } from "./grammars.ts";
import type { LoadedModel } from "./model.ts";
import type { GenerationPlan } from "./request.ts";
import { SlotPool, type Lease } from "./slots.ts";

export type EngineFinishReason = "stop" | "length" | "tool_calls";

export interface EngineToolCall {
  id: string;
  name: string;
  /** JSON text of the arguments, as OpenAI sends them. */
  arguments: string;
}

export interface GenerationResult {
  content: string;
  toolCalls: EngineToolCall[];
  finishReason: EngineFinishReason;
  usage: Usage;
}

export interface GenerationEvents {
  onText?: (text: string) => void;
  /** A new tool call begins (`arguments` follow through onToolCallArguments). */
  onToolCallStart?: (call: { index: number; id: string; name: string }) => void;
  onToolCallArguments?: (call: { index: number; delta: string }) => void;
}

/** A request that passed every check that needs no slot: grammar compiled, prompt measured. */
export interface PreparedGeneration {
  plan: GenerationPlan;
  constraint?: JsonConstraint;
  promptTokens: number;
  maxTokens: number;
}

export class CancelledError extends Error {
  override readonly name = "CancelledError";
  readonly by: "client" | "shutdown";
  constructor(by: "client" | "shutdown") {
    super(by === "client" ? "the client went away" : "the server is shutting down");
    this.by = by;
  }
}

export class JsonAnswerError extends Error {
  override readonly name = "JsonAnswerError";
}

/**
 * Tool calls are checked like a response_format answer: arguments outside their parameters'
 * schema (numeric bounds, which the grammar cannot enforce) are a JsonAnswerError, never a 200.
 */
export function checkToolCalls(plan: Pick<GenerationPlan, "toolChecks">, calls: ReadonlyArray<{ functionName: string; params?: unknown }>): void {
  for (const call of calls) {
    try {
      plan.toolChecks?.[call.functionName]?.(call.params);
    } catch (error) {
      throw new JsonAnswerError(`the model's call to "${call.functionName}" does not match its parameters: ${error instanceof Error ? error.message : error}`);
    }
  }
}

export interface EngineOptions {
  loaded: LoadedModel;
  /** The id /v1/models shows and answers carry. */
  modelId: string;
  parallel: number;
  /** Tokens per sequence; node-llama-cpp sizes it from the model and free memory when absent. */
  contextSize?: number;
  threads: number;
  maxQueue: number;
}

export interface EngineHealth {
  model: string;
  context_size: number;
  parallel: number;
  busy: number;
  queued: number;
  max_queue: number;
}

/** OpenAI's presence/frequency penalties; none at all by default, as OpenAI does. */
const repeatPenalty = ({ presencePenalty, frequencyPenalty }: GenerationPlan): LLamaContextualRepeatPenalty | false =>
  presencePenalty || frequencyPenalty ? { presencePenalty, frequencyPenalty } : false;

const toolCallId = () => `call_${randomBytes(12).toString("base64url")}`;

/**
 * The chat wrapper with its function-call prefix trigger made unconditional, so generation starts
 * in function-calling mode: how tool_choice "required" (or a named function) is forced.
 * A Proxy rather than a subclass, because wrappers keep private state on the original instance.
 */
function forcingFunctionCalls(wrapper: ChatWrapper): ChatWrapper {
  return new Proxy(wrapper, {
    get(target, property) {
      if (property === "generateContextState")
        return (options: Parameters<ChatWrapper["generateContextState"]>[0]): ChatWrapperGeneratedContextState => {
          const { contextText, stopGenerationTriggers } = target.generateContextState(options);
          return { contextText, stopGenerationTriggers, noPrefixTrigger: { type: "functionCall", inject: LlamaText() } };
        };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export class Engine {
  readonly modelId: string;
  readonly contextSize: number;
  private readonly loaded: LoadedModel;
  private readonly context: LlamaContext;
  private readonly chatWrapper: ChatWrapper;
  private readonly forcedWrapper: ChatWrapper;
  private readonly pool: SlotPool<LlamaContextSequence>;
  private readonly grammars: GrammarCache;
  private readonly stopping = new AbortController();

  private constructor(options: EngineOptions, context: LlamaContext) {
    this.loaded = options.loaded;
    this.modelId = options.modelId;
    this.context = context;
    this.contextSize = context.contextSize;
    // The chat template from the file (or a specialised equivalent); a general wrapper when it has none.
    this.chatWrapper = resolveChatWrapper(options.loaded.model);
    this.forcedWrapper = forcingFunctionCalls(this.chatWrapper);
    const sequences = Array.from({ length: options.parallel }, () => context.getSequence());
    this.pool = new SlotPool(sequences, options.maxQueue);
    this.grammars = new GrammarCache(options.loaded.llama);
  }

  static async create(options: EngineOptions): Promise<Engine> {
    const context = await options.loaded.model.createContext({
      sequences: options.parallel,
      contextSize: options.contextSize ?? "auto",
      threads: options.threads,
    });
    return new Engine(options, context);
  }

  get chatWrapperName(): string {
    return this.chatWrapper.wrapperName;
  }

  health(): EngineHealth {
    return {
      model: this.modelId,
      context_size: this.contextSize,
      parallel: this.pool.size,
      busy: this.pool.busy,
      queued: this.pool.queued,
      max_queue: this.pool.maxQueue,
    };
  }

  /** The rendered prompt's token count: what the sequence evaluates before generating. */
  countPromptTokens(plan: Pick<GenerationPlan, "history" | "functions">): number {
    const { contextText } = this.chatWrapper.generateContextState({
      chatHistory: plan.history,
      availableFunctions: plan.functions,
      documentFunctionParams: true,
    });
    return contextText.tokenize(this.loaded.model.tokenizer).length;
  }

  async prepare(plan: GenerationPlan): Promise<PreparedGeneration> {
    const constraint = await this.grammars.forFormat(plan.responseFormat);
    const promptTokens = this.countPromptTokens(plan);
    const room = this.contextSize - promptTokens;
    if (room <= 0)
      throw badRequest(
        `the prompt is ${promptTokens} tokens; this model's context holds ${this.contextSize}`,
        "messages",
        "context_length_exceeded",
      );
    return { plan, constraint, promptTokens, maxTokens: Math.min(plan.maxTokens ?? room, room) };
  }

  /** A free sequence, after waiting in the queue; QueueFullError when the queue is full. */
  async acquire(signal: AbortSignal): Promise<Lease<LlamaContextSequence>> {
    const abort = AbortSignal.any([signal, this.stopping.signal]);
    try {
      return await this.pool.acquire(abort);
    } catch (error) {
      if (abort.aborted) throw this.cancelled();
      throw error;
    }
  }

  private cancelled(): CancelledError {
    return new CancelledError(this.stopping.signal.aborted ? "shutdown" : "client");
  }

  /** Generates on the leased sequence and releases it, whatever happens. */
  async generate(
    lease: Lease<LlamaContextSequence>,
    prepared: PreparedGeneration,
    signal: AbortSignal,
    events: GenerationEvents = {},
  ): Promise<GenerationResult> {
    const abort = AbortSignal.any([signal, this.stopping.signal]);
    const sequence = lease.slot;
    const { plan } = prepared;
    let chat: LlamaChat | undefined;
    const toolCallIds: string[] = [];
    const heldWhitespace: string[] = [];
    const sampling = {
      signal: abort,
      maxTokens: prepared.maxTokens,
      temperature: plan.temperature,
      topP: plan.topP,
      seed: plan.seed,
      customStopTriggers: plan.stop.length > 0 ? plan.stop : undefined,
      repeatPenalty: repeatPenalty(plan),
      onTextChunk: events.onText,
    };
    try {
      chat = new LlamaChat({
        contextSequence: sequence,
        chatWrapper: plan.forceFunctionCall ? this.forcedWrapper : this.chatWrapper,
      });
      const before = sequence.tokenMeter.getState();
      const response = plan.functions
        ? await chat.generateResponse(plan.history, {
            ...sampling,
            functions: plan.functions,
            documentFunctionParams: true,
            onFunctionCallParamsChunk: ({ callIndex, functionName, paramsChunk }) => {
              if (toolCallIds[callIndex] === undefined) {
                toolCallIds[callIndex] = toolCallId();
                heldWhitespace.length = 0;
                events.onToolCallStart?.({ index: callIndex, id: toolCallIds[callIndex], name: functionName });
              }
              // The grammar lets a call end in newlines; hold whitespace back until more JSON follows.
              if (paramsChunk.trim() === "") return void heldWhitespace.push(paramsChunk);
              const delta = heldWhitespace.splice(0).join("") + paramsChunk;
              events.onToolCallArguments?.({ index: callIndex, delta });
            },
          })
        : await chat.generateResponse(plan.history, { ...sampling, grammar: prepared.constraint?.grammar });
      if (response.metadata.stopReason === "abort" || abort.aborted) throw this.cancelled();
      // The meter counts every sampled token, including ones held back as a possible stop trigger.
      const completionTokens = sequence.tokenMeter.diff(before).usedOutputTokens;
      checkToolCalls(plan, response.functionCalls ?? []);
      const toolCalls = (response.functionCalls ?? []).map((call, index) => ({
        id: toolCallIds[index] ?? toolCallId(),
        name: call.functionName,
        arguments: JSON.stringify(call.params ?? {}),
      }));
      // A call to a tool without parameters streams no parameter chunks: announce it whole.
      toolCalls.forEach((call, index) => {
        if (toolCallIds[index] !== undefined) return;
        events.onToolCallStart?.({ index, id: call.id, name: call.name });
        events.onToolCallArguments?.({ index, delta: call.arguments });
      });
      const finishReason: EngineFinishReason =
        toolCalls.length > 0 ? "tool_calls" : response.metadata.stopReason === "maxTokens" ? "length" : "stop";
      // A client's own stop string may cut the JSON short, as it would at OpenAI: that is its answer.
      if (prepared.constraint && finishReason === "stop" && response.metadata.stopReason !== "customStopTrigger") {
        try {
          prepared.constraint.validate(response.response);
        } catch (error) {
          throw new JsonAnswerError(`the model's answer does not match response_format: ${error instanceof Error ? error.message : error}`);
        }
      }
      return {
        content: response.response,
        toolCalls,
        finishReason,
        usage: {
          prompt_tokens: prepared.promptTokens,
          completion_tokens: completionTokens,
          total_tokens: prepared.promptTokens + completionTokens,
        },
      };
    } catch (error) {
      if (abort.aborted && !(error instanceof CancelledError)) throw this.cancelled();
      throw error;
    } finally {
      chat?.dispose({ disposeSequence: false });
      lease.release();
    }
  }

  /** Stop: let running and queued work finish for up to graceMs, cancel the rest, free the model. */
  async close(graceMs: number, beforeFree?: () => Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.pool.whenIdle(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.stopping.abort();
    await this.pool.whenIdle();
    await beforeFree?.();
    await this.context.dispose();
    await this.loaded.model.dispose();
    await this.loaded.llama.dispose();
  }
}
