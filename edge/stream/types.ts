// What a relayed stream tells its caller: the tap (what it saw), how it ended, and the hooks a
// relay is given to carry on a broken stream elsewhere. Shared by both relays (relay.ts, native.ts)
// and the chain that starts them; imports nothing from the chain.
import type { ErrorCategory } from "../../shared/errors.ts";
import type { Usage } from "../../shared/openai.ts";
import type { UpstreamError } from "../normalize.ts";

export interface StreamTap {
  usage?: Usage;
  finishReason?: string | null;
  /** A frame with content, reasoning, a tool call, a refusal or a finish_reason: the answer has begun. */
  sawAnswer: boolean;
  sawDone: boolean;
  /** An error event from upstream, categorized and sanitized. */
  upstreamError?: { category: ErrorCategory; message: string };
  /** Data events that were not JSON: dropped, not forwarded. */
  droppedEvents: number;
  /** A tool-call delta went out: such a stream is never continued (half a call cannot be resumed). */
  sawToolCall: boolean;
  /** The answer's content so far: kept only when the stream can be continued elsewhere. */
  text: string;
  /** The chunk id the client sees: a continuation's chunks are given it too. */
  chunkId?: string;
  /** This upstream's own failure after the answer began (what its circuit learns), continued or not. */
  broke?: StreamFailure;
  /** A restarted segment: the characters of its answer that matched the client's text. */
  matchedChars?: number;
  /** The usage was estimated (the native feed, a client that did not ask for usage: upstream was not asked either). */
  usageEstimated?: boolean;
}

export type StreamFailure = { category: ErrorCategory; message: string };

/** Where a continued stream ended up: the provider that finished it and what it took. */
export interface Continued {
  provider: string;
  model: string;
  usage?: Usage;
  finishReason?: string | null;
  droppedEvents: number;
  /** A restart finished the answer: how many of its characters repeated the client's text. */
  restarted?: { matchedChars: number };
}

export type StreamEnd = (
  | { outcome: "completed"; tap: StreamTap }
  | { outcome: "failed"; tap: StreamTap; category: ErrorCategory; message: string }
  | { outcome: "cancelled"; tap: StreamTap }
) & { continued?: Continued };

/** How a continuation ended, without the relay's own tap. */
export type ContinuationEnd = (
  | { outcome: "completed" }
  | { outcome: "failed"; category: ErrorCategory; message: string }
  | { outcome: "cancelled" }
) & { continued: Continued };

/** Another provider's stream that carries on from where this one broke. */
export interface ContinuedStream {
  body: ReadableStream<Uint8Array>;
  ended: Promise<ContinuationEnd>;
}

export interface ContinueRequest {
  /** Why this segment broke. */
  failure: StreamFailure;
  /** The whole answer's content so far, this segment's included. */
  text: string;
  chunkId: string;
  /** The first break of the request: what the client is told if nothing finishes the answer. */
  original: StreamFailure;
  /** Aborted when the client leaves (its request's signal, or its stream cancelled): the search stops. */
  signal: AbortSignal;
}

/** Finds a provider to continue a broken stream (continuation.ts): its stream, or undefined when none can. */
export type ContinueWith = (request: ContinueRequest) => Promise<ContinuedStream | undefined>;

/** This relay carries on a stream another provider broke. */
export interface Segment {
  chunkId: string;
  /** The answer's content before this segment. */
  carried: string;
  original: StreamFailure;
  /** A restart (restart_on_break): this provider answers from the beginning; only what follows `carried` goes on. */
  restart?: boolean;
}

export type PeekResult = { ok: true } | { ok: false; error: UpstreamError } | { ok: false; cancelled: true };
