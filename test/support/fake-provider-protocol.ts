// The fake provider's scripting protocol and its answers, shared by the Node server and the tests
// in workerd (so this file imports nothing from Node).

declare module "vitest" {
  export interface ProvidedContext {
    fakeProviderUrl: string;
    closedPort: number;
    /** A running sidecar with the tiny model, and its bearer token. */
    sidecarUrl: string;
    sidecarToken: string;
  }
}

export type Step =
  | { type: "json"; status?: number; body?: unknown; headers?: Record<string, string>; content?: string; /** Wait this long before answering. */ delay_ms?: number }
  | {
      type: "sse";
      /** Data payloads: objects are JSON-encoded, strings sent as they are ("[DONE]"). Default: a short answer. */
      events?: Array<unknown>;
      content?: string;
      /** Raw text written before the events (comments, odd framing). */
      prelude?: string;
      /** How the stream ends after the events: [DONE] (default), a clean close, a reset, or a hang. */
      end?: "done" | "close" | "reset" | "hang";
      /** Milliseconds between events. */
      gap_ms?: number;
      /** Milliseconds after the headers before the first event (a slow first token). */
      first_delay_ms?: number;
      /** Send only the first N events, then end as `end` says (a stream cut or stalled half-way). */
      cut_after?: number;
      /** The chunks' id (default "chatcmpl-fake"). */
      chunk_id?: string;
      /**
       * Continue a trailing assistant message, as a provider with prefill does: stream only the part
       * of `content` after that message's text (all of it when the text is not its beginning).
       */
      prefill?: boolean;
      status?: number;
      headers?: Record<string, string>;
    }
  | { type: "raw"; status: number; body: string; headers?: Record<string, string> }
  | { type: "hang" }
  | { type: "reset" }
  | { type: "reset_mid_body" };

export interface Script {
  steps: Step[];
  /** When the steps run out: repeat the last one (default) or answer a plain success. */
  after?: "repeat_last" | "success";
}

export interface RecordedCall {
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  /** The client closed the connection before the answer was complete (an abort reached upstream). */
  abandoned: boolean;
  method: string;
  /** The request path, e.g. /s/<id>/v1/chat/completions. */
  path: string;
}

export function completion(model: string, content: string, usage = { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 }) {
  return {
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: "stop" }],
    usage,
  };
}

/** The chunks of a streamed answer, with the usage chunk when `includeUsage`. */
export function chunks(model: string, content: string, includeUsage: boolean, id = "chatcmpl-fake"): unknown[] {
  const base = { id, object: "chat.completion.chunk", created: 1_700_000_000, model };
  const usage = includeUsage ? { usage: null } : {};
  const words = content.split(/(?<= )/);
  return [
    { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }], ...usage },
    ...words.map((word) => ({ ...base, choices: [{ index: 0, delta: { content: word }, finish_reason: null }], ...usage })),
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }], ...usage },
    ...(includeUsage ? [{ ...base, choices: [], usage: { prompt_tokens: 7, completion_tokens: words.length, total_tokens: 7 + words.length } }] : []),
  ];
}

/**
 * The fake's embedding of one input: a deterministic function of the input alone, so every host
 * of one embedding space answers the same vector (what failover between hosts must preserve).
 */
export function embeddingVector(input: string | number[], dimensions = 4): number[] {
  const codes = typeof input === "string" ? [...input].map((ch) => ch.codePointAt(0)!) : input;
  return Array.from({ length: dimensions }, (_, d) => codes.reduce((sum, code, i) => sum + ((code * (d + 1) + i) % 17), 0) / 16 - 0.5 * (d + 1));
}

/** An OpenAI embeddings answer (floats) for the request's input. */
export function embeddingsAnswer(model: string, input: unknown, dimensions?: number) {
  const inputs = typeof input === "string" ? [input] : Array.isArray(input) && typeof input[0] === "number" ? [input as number[]] : (input as Array<string | number[]>);
  return {
    object: "list",
    data: inputs.map((item, index) => ({ object: "embedding", index, embedding: embeddingVector(item, dimensions) })),
    model,
    usage: { prompt_tokens: 3 * inputs.length, total_tokens: 3 * inputs.length },
  };
}
