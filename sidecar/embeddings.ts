// Embeddings from a GGUF with node-llama-cpp's embedding context. A request takes one of the
// engine's slots (the same --parallel and --max-queue as chat, so chat and embeddings together
// never oversubscribe the CPU) and embeds all its inputs under that one lease. Vectors are
// L2-normalized, as OpenAI's and llama.cpp's server's are; `dimensions` shortens them first.
import type { LlamaEmbeddingContext, LlamaModel, Token } from "node-llama-cpp";
import type { EmbeddingRequest } from "../shared/embeddings.ts";
import { CancelledError, type Engine } from "./engine.ts";
import { badRequest } from "./errors.ts";

export interface EmbeddingsResult {
  vectors: number[][];
  promptTokens: number;
}

function normalize(vector: readonly number[]): number[] {
  const norm = Math.hypot(...vector);
  return norm > 0 ? vector.map((value) => value / norm) : [...vector];
}

export class Embedder {
  readonly modelId: string;
  /** One context per slot: a lease from the engine's pool always finds one free. */
  private readonly free: LlamaEmbeddingContext[];
  private readonly all: LlamaEmbeddingContext[];
  private readonly engine: Engine;
  private readonly model: LlamaModel;
  /** A separate --embedding-model file is freed with the embedder; the chat model is the engine's. */
  private readonly ownsModel: boolean;
  /**
   * How many token ids the vocabulary has (as node-llama-cpp's iterateAllTokens counts them), or
   * undefined when the file does not say: an id past it makes llama.cpp's eval fail.
   */
  private readonly vocabularySize: number | undefined;

  private constructor(engine: Engine, model: LlamaModel, modelId: string, contexts: LlamaEmbeddingContext[], ownsModel: boolean) {
    this.engine = engine;
    this.model = model;
    this.modelId = modelId;
    this.all = contexts;
    this.free = [...contexts];
    this.ownsModel = ownsModel;
    this.vocabularySize = model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length;
  }

  static async create(options: { engine: Engine; model: LlamaModel; modelId: string; threads: number; ownsModel: boolean }): Promise<Embedder> {
    const contexts: LlamaEmbeddingContext[] = [];
    for (let i = 0; i < options.engine.health().parallel; i++) {
      contexts.push(await options.model.createEmbeddingContext({ contextSize: options.engine.contextSize, threads: options.threads }));
    }
    return new Embedder(options.engine, options.model, options.modelId, contexts, options.ownsModel);
  }

  /** The inputs as token lists, checked (empty, ids in the vocabulary, context size) before any slot is taken. */
  private tokenize(input: EmbeddingRequest["input"]): Token[][] {
    const single = typeof input === "string" || typeof input[0] === "number";
    const inputs = (single ? [input] : input) as Array<string | number[]>;
    const context = this.all[0]!;
    return inputs.map((item, index) => {
      const param = single ? "input" : `input[${index}]`;
      const tokens = (typeof item === "string" ? this.model.tokenize(item) : item) as Token[];
      // OpenAI answers 400 for an empty string; the BOS token calculateInputLength adds would hide it.
      if (tokens.length === 0) throw badRequest(`${param} is empty`, param);
      const vocabulary = this.vocabularySize ?? Infinity;
      const outside = tokens.findIndex((token) => token >= vocabulary);
      if (outside >= 0) {
        throw badRequest(`${param}[${outside}] is token id ${tokens[outside]}, not in this model's vocabulary (ids 0 to ${vocabulary - 1})`, `${param}[${outside}]`);
      }
      const length = context.calculateInputLength(tokens);
      const limit = this.engine.contextSize;
      if (length > limit) throw badRequest(`${param} is ${length} tokens; this model's context holds ${limit}`, param, "context_length_exceeded");
      return tokens;
    });
  }

  async embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingsResult> {
    const inputs = this.tokenize(request.input);
    const lease = await this.engine.acquire(signal);
    const context = this.free.pop()!;
    try {
      const vectors: number[][] = [];
      for (const tokens of inputs) {
        if (signal.aborted) throw new CancelledError("client");
        const { vector } = await context.getEmbeddingFor(tokens);
        if (request.dimensions !== undefined && request.dimensions > vector.length) {
          throw badRequest(`dimensions ${request.dimensions} is more than this model's ${vector.length}`, "dimensions");
        }
        vectors.push(normalize(request.dimensions === undefined ? vector : vector.slice(0, request.dimensions)));
      }
      return { vectors, promptTokens: inputs.reduce((sum, tokens) => sum + tokens.length, 0) };
    } finally {
      this.free.push(context);
      lease.release();
    }
  }

  async close(): Promise<void> {
    for (const context of this.all) await context.dispose();
    if (this.ownsModel) await this.model.dispose();
  }
}
