// Relays an upstream SSE stream to the client. Until the answer begins (content, a tool call or a
// finish reason) nothing is sent, so the chain can still fail over; after that, upstream bytes pass
// through as they are, frame by frame.
// Only whole frames (frames.ts) are forwarded: an SSE client can act on nothing less, and it lets
// the relay drop the usage chunk that was asked for on the client's behalf. A tap reads each frame
// once (eventsource-parser) to capture usage and finish_reason.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { openAIError, type ErrorCategory } from "../../shared/errors.ts";
import type { Usage } from "../../shared/openai.ts";
import { sseData } from "../../shared/sse.ts";
import { errorStatus, readUpstreamError, type UpstreamError } from "../normalize.ts";
import { concatFrames, FrameSplitter, FrameTooLarge } from "./frames.ts";

export interface StreamTap {
  usage?: Usage;
  finishReason?: string | null;
  /** A frame with content, a tool call, a refusal or a finish_reason: the answer has begun. */
  sawAnswer: boolean;
  sawDone: boolean;
  /** An error event from upstream, categorized and sanitized. */
  upstreamError?: { category: ErrorCategory; message: string };
}

export type StreamEnd =
  | { outcome: "completed"; tap: StreamTap }
  | { outcome: "failed"; tap: StreamTap; category: ErrorCategory; message: string }
  | { outcome: "cancelled"; tap: StreamTap };

export type PeekResult = { ok: true } | { ok: false; error: UpstreamError };

interface RelayOptions {
  clientWantsUsage: boolean;
  /** Ends the upstream call: used for the idle timeout and when the client goes away. */
  abort: (reason: unknown) => void;
  idleTimeoutMs: number;
  /** What a read failure means: the caller knows whether it aborted for a timeout or the client left. */
  readFailure: (error: unknown) => { category: ErrorCategory; message: string } | "cancelled";
  /** An upstream error, categorized by the provider's rules and sanitized of its secrets. */
  describeError: (error: UpstreamError) => { category: ErrorCategory; message: string };
  onEnd: (end: StreamEnd) => void;
}

interface Chunk {
  error?: unknown;
  usage?: Usage | null;
  choices?: Array<{ finish_reason?: string | null; delta?: { content?: unknown; refusal?: unknown; tool_calls?: unknown[] } }>;
}

/** Whether a chunk begins the answer (a role-only first chunk does not: failover is still possible). */
function beginsAnswer(chunk: Chunk): boolean {
  return (chunk.choices ?? []).some(
    (choice) => Boolean(choice?.finish_reason || choice?.delta?.content || choice?.delta?.refusal || choice?.delta?.tool_calls?.length),
  );
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const USAGE_OBJECT = /"usage"\s*:\s*\{/;
const ERROR_KEY = /"error"\s*:/;
const FINISH_REASON = /"finish_reason"\s*:\s*"(\w+)"/;

export class SseRelay {
  readonly tap: StreamTap = { sawAnswer: false, sawDone: false };
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly splitter = new FrameSplitter();
  private readonly options: RelayOptions;
  private readonly held: Uint8Array[] = [];
  private event: EventSourceMessage | undefined;
  private comment = false;
  private readonly parser = createParser({
    onEvent: (event) => (this.event = event),
    onComment: () => (this.comment = true),
  });
  private finished = false;
  /** Set by an error event seen before the answer began: the chain walk moves on. */
  private pendingError: UpstreamError | undefined;

  constructor(body: ReadableStream<Uint8Array>, options: RelayOptions) {
    this.reader = body.getReader();
    this.options = options;
  }

  /**
   * Reads until the answer begins (ok), or until upstream shows it will not give one: an error
   * event, [DONE] or the end before any content, or a broken frame.
   */
  async peek(): Promise<PeekResult> {
    for (;;) {
      const { done, value } = await this.reader.read();
      if (done) return { ok: false, error: emptyStream("upstream closed the stream before the answer began") };
      const forwarded = this.relayFrames(value);
      if (forwarded.length) this.held.push(concatFrames(forwarded));
      if (this.pendingError) return { ok: false, error: this.pendingError };
      if (this.tap.sawAnswer) return { ok: true };
      if (this.tap.sawDone) return { ok: false, error: emptyStream("upstream sent [DONE] without an answer") };
    }
  }

  /** The client's stream: the frames held while peeking, then the rest as it arrives. */
  toClientStream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        for (const frame of this.held.splice(0)) controller.enqueue(frame);
      },
      pull: (controller) => this.pump(controller),
      cancel: (reason) => this.clientGone(reason),
    });
  }

  /** The client went away: stop reading upstream and end as cancelled. */
  clientGone(reason: unknown): void {
    if (this.finished) return;
    this.options.abort(reason);
    this.reader.cancel(reason).catch(() => {});
    this.finish({ outcome: "cancelled", tap: this.tap });
  }

  /**
   * Forwards the frames of the next upstream read that has any to forward; closes the client
   * stream at the end. It keeps reading past chunks that were all dropped: workerd does not call
   * pull again after one that enqueued nothing.
   */
  private async pump(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      const timer = setTimeout(
        () => this.options.abort(new IdleTimeout(this.options.idleTimeoutMs)),
        this.options.idleTimeoutMs,
      );
      let forwarded: Uint8Array[];
      let chunk: Uint8Array;
      try {
        const result = await this.reader.read();
        if (result.done) return this.close(controller);
        chunk = result.value;
        forwarded = this.relayFrames(chunk);
      } catch (error) {
        if (this.finished) return; // the client cancelled: nothing left to tell it
        const failure = error instanceof FrameTooLarge ? { category: "ServerError" as const, message: error.message } : this.options.readFailure(error);
        if (failure === "cancelled") {
          this.finish({ outcome: "cancelled", tap: this.tap });
          controller.close();
          return;
        }
        this.failClient(controller, failure.category, failure.message);
        return;
      } finally {
        clearTimeout(timer);
      }
      if (!forwarded.length) continue;
      // The common case: a chunk of whole frames, all forwarded as they were, goes on as the very bytes upstream sent.
      controller.enqueue(forwarded.length === 1 && forwarded[0] === chunk ? chunk : concatFrames(forwarded));
      return;
    }
  }

  /** The frames of one upstream chunk that go to the client (the chunk itself when all go unchanged). */
  private relayFrames(chunk: Uint8Array): Uint8Array[] {
    const frames = this.splitter.push(chunk);
    const out: Uint8Array[] = [];
    let unchanged = true;
    for (const frame of frames) {
      const forward = this.inspect(frame);
      if (forward !== frame) unchanged = false;
      if (forward) out.push(forward);
    }
    return unchanged && this.splitter.aligned && frames.length ? [chunk] : out;
  }
  /** Upstream ended: complete when the answer was, else tell the client it was cut short. */
  private close(controller: ReadableStreamDefaultController<Uint8Array>): void {
    const tail = this.splitter.end();
    const forward = tail && this.inspect(tail);
    if (forward) controller.enqueue(concatFrames([forward]));
    if (this.tap.upstreamError) {
      controller.close();
      this.finish({ outcome: "failed", tap: this.tap, ...this.tap.upstreamError });
    } else if (this.tap.sawDone || this.tap.finishReason) {
      controller.close();
      this.finish({ outcome: "completed", tap: this.tap });
    } else {
      this.failClient(controller, "NetworkError", "upstream stream ended before the answer was complete");
    }
  }

  /** Ends the client's stream with an OpenAI error event (never a clean [DONE]) and logs it. */
  private failClient(controller: ReadableStreamDefaultController<Uint8Array>, category: ErrorCategory, message: string) {
    controller.enqueue(errorEvent(`Stream interrupted: ${message}`, category, "stream_interrupted"));
    controller.close();
    this.finish({ outcome: "failed", tap: this.tap, category, message });
  }

  private finish(end: StreamEnd): void {
    if (this.finished) return;
    this.finished = true;
    this.options.onEnd(end);
  }

  /**
   * Reads one whole frame into the tap. Returns what goes to the client: the frame itself, a
   * sanitized replacement (upstream error events), or null (the usage chunk the client did not
   * ask for, `event:`-only frames, which crash SDKs).
   */
  private inspect(frame: Uint8Array): Uint8Array | null {
    this.event = undefined;
    this.comment = false;
    this.parser.feed(decoder.decode(frame));
    // The parser's callbacks set these synchronously during feed().
    const data = (this.event as EventSourceMessage | undefined)?.data;
    if (data === undefined) return this.comment ? frame : null;
    if (data === "[DONE]") {
      this.tap.sawDone = true;
      return frame;
    }
    const finish = FINISH_REASON.exec(data);
    if (finish) this.tap.finishReason = finish[1];
    // Once the answer is flowing, parse only the frames that can hold what the tap needs.
    if (this.tap.sawAnswer && !USAGE_OBJECT.test(data) && !ERROR_KEY.test(data)) return frame;
    let chunk: Chunk;
    try {
      chunk = JSON.parse(data) as Chunk;
    } catch {
      return frame;
    }
    if (chunk.error) {
      const error = readUpstreamError(errorStatus(chunk.error), data);
      if (!this.tap.sawAnswer) {
        this.pendingError = error;
        return null;
      }
      this.tap.upstreamError = this.options.describeError(error);
      const { category, message } = this.tap.upstreamError;
      return errorEvent(message, category, error.code);
    }
    if (chunk.usage) {
      this.tap.usage = chunk.usage;
      if (!this.options.clientWantsUsage && chunk.choices?.length === 0) return null;
    }
    if (!this.tap.sawAnswer && beginsAnswer(chunk)) this.tap.sawAnswer = true;
    return frame;
  }
}

export class IdleTimeout extends Error {
  constructor(ms: number) {
    super(`no data from upstream for ${ms} ms`);
    this.name = "IdleTimeout";
  }
}

/** An OpenAI error event, the only way to report an error once the stream has started. */
function errorEvent(message: string, category: ErrorCategory, code: string | null): Uint8Array {
  return encoder.encode(sseData(openAIError(message, category === "Timeout" ? "timeout_error" : "server_error", code)));
}

function emptyStream(message: string): UpstreamError {
  return { status: 502, code: null, type: null, param: null, message, body: "" };
}
