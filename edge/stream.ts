// Relays an upstream SSE stream to the client. Before the first data event nothing is sent, so the
// chain can still fail over; after it, upstream bytes pass through as they are, frame by frame.
// Only whole frames are forwarded: an SSE client can act on nothing less, and it lets the relay
// drop the usage chunk that was asked for on the client's behalf. A tap reads each frame once
// (eventsource-parser) to capture usage and finish_reason.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { openAIError, type ErrorCategory } from "../shared/errors.ts";
import type { Usage } from "../shared/openai.ts";
import { sseData } from "../shared/sse.ts";
import { errorStatus, readUpstreamError, type UpstreamError } from "./normalize.ts";

const LF = 10;
const CR = 13;

/** Index just past the blank line that ends the first frame at or after `from`, or -1. */
function frameEnd(buf: Uint8Array, from: number): number {
  for (let i = from; i < buf.length; i++) {
    const byte = buf[i];
    if (byte !== LF && byte !== CR) continue;
    let next = i + 1;
    if (byte === CR) {
      if (next >= buf.length) return -1; // CR then maybe LF: wait for the next chunk
      if (buf[next] === LF) next++;
    }
    if (next >= buf.length) return -1;
    if (buf[next] === LF) return next + 1;
    if (buf[next] === CR) {
      if (next + 1 >= buf.length) return -1;
      return buf[next + 1] === LF ? next + 2 : next + 1;
    }
    i = next - 1;
  }
  return -1;
}

/**
 * Cuts a byte stream into whole SSE frames, keeping the unfinished tail for the next chunk.
 * Frames are views of one buffer: join them with `concatFrames` before handing them on, since
 * workerd may detach a buffer once it is enqueued.
 */
export class FrameSplitter {
  private pending: Uint8Array = new Uint8Array(0);
  /** True when the last chunk was exactly whole frames, so it can be forwarded as it is. */
  aligned = false;

  push(chunk: Uint8Array): Uint8Array[] {
    let buf = chunk;
    const hadPending = this.pending.length > 0;
    if (hadPending) {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending);
      buf.set(chunk, this.pending.length);
    }
    const frames: Uint8Array[] = [];
    let start = 0;
    for (let end = frameEnd(buf, 0); end !== -1; end = frameEnd(buf, start)) {
      frames.push(buf.subarray(start, end));
      start = end;
    }
    this.pending = buf.slice(start);
    this.aligned = !hadPending && this.pending.length === 0;
    return frames;
  }
}

/** One new buffer holding the given frames back to back. */
function concatFrames(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((sum, frame) => sum + frame.length, 0));
  let offset = 0;
  for (const frame of frames) {
    out.set(frame, offset);
    offset += frame.length;
  }
  return out;
}

export interface StreamTap {
  usage?: Usage;
  finishReason?: string | null;
  sawData: boolean;
  sawDone: boolean;
  upstreamError?: UpstreamError;
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
  /** How a read failure is categorized (the caller knows whether it aborted for a timeout). */
  readFailure: (error: unknown) => { category: ErrorCategory; message: string };
  onEnd: (end: StreamEnd) => void;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class SseRelay {
  readonly tap: StreamTap = { sawData: false, sawDone: false };
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

  constructor(body: ReadableStream<Uint8Array>, options: RelayOptions) {
    this.reader = body.getReader();
    this.options = options;
  }

  /** Reads until the first data event: ok when it carries an answer, an error when it carries one. */
  async peek(): Promise<PeekResult> {
    for (;;) {
      const { done, value } = await this.reader.read();
      if (done) return { ok: false, error: emptyStream("upstream closed the stream before the first event") };
      const frames = this.splitter.push(value);
      const kept = frames.filter((frame) => this.inspect(frame));
      if (kept.length) this.held.push(concatFrames(kept));
      if (this.tap.upstreamError) return { ok: false, error: this.tap.upstreamError };
      if (this.tap.sawData) return { ok: true };
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
      cancel: (reason) => {
        this.options.abort(reason);
        this.reader.cancel(reason).catch(() => {});
        this.finish({ outcome: "cancelled", tap: this.tap });
      },
    });
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
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await this.reader.read();
      } catch (error) {
        if (this.finished) return; // the client cancelled: nothing left to tell it
        const failure = this.options.readFailure(error);
        this.failClient(controller, failure.category, failure.message);
        return;
      } finally {
        clearTimeout(timer);
      }
      if (result.done) return this.close(controller);
      const frames = this.splitter.push(result.value);
      const kept = frames.filter((frame) => this.inspect(frame));
      if (!kept.length) continue;
      // The common case: a chunk of whole frames, all kept, goes on as the very bytes upstream sent.
      controller.enqueue(kept.length === frames.length && this.splitter.aligned ? result.value : concatFrames(kept));
      return;
    }
  }

  /** Upstream ended: complete when the answer was, else tell the client it was cut short. */
  private close(controller: ReadableStreamDefaultController<Uint8Array>): void {
    if (this.tap.upstreamError) {
      controller.close();
      this.finish({ outcome: "failed", tap: this.tap, category: "ServerError", message: this.tap.upstreamError.message });
    } else if (this.tap.sawDone || this.tap.finishReason) {
      controller.close();
      this.finish({ outcome: "completed", tap: this.tap });
    } else {
      this.failClient(controller, "NetworkError", "upstream stream ended before the answer was complete");
    }
  }

  /** Ends the client's stream with an OpenAI error event (never a clean [DONE]) and logs it. */
  private failClient(controller: ReadableStreamDefaultController<Uint8Array>, category: ErrorCategory, message: string) {
    const type = category === "Timeout" ? "timeout_error" : "server_error";
    controller.enqueue(encoder.encode(sseData(openAIError(`Stream interrupted: ${message}`, type, "stream_interrupted"))));
    controller.close();
    this.finish({ outcome: "failed", tap: this.tap, category, message });
  }

  private finish(end: StreamEnd): void {
    if (this.finished) return;
    this.finished = true;
    this.options.onEnd(end);
  }

  /** Reads one whole frame into the tap; false when the frame must not reach the client. */
  private inspect(frame: Uint8Array): boolean {
    this.event = undefined;
    this.comment = false;
    this.parser.feed(decoder.decode(frame));
    // The parser's callbacks set these synchronously during feed().
    const data = (this.event as EventSourceMessage | undefined)?.data;
    if (data === undefined) return this.comment; // comments pass through; `event:`-only frames crash SDKs
    if (data === "[DONE]") {
      this.tap.sawDone = true;
      return true;
    }
    // Parse only the frames that can hold what the tap needs: most content chunks are skipped.
    const finish = /"finish_reason"\s*:\s*"(\w+)"/.exec(data);
    if (finish) this.tap.finishReason = finish[1];
    if (data.includes('"error"') || data.includes('"usage"')) {
      let chunk: { error?: unknown; usage?: Usage | null; choices?: unknown[] };
      try {
        chunk = JSON.parse(data);
      } catch {
        return true;
      }
      if (chunk.error) {
        this.tap.upstreamError = readUpstreamError(errorStatus(chunk.error), data);
        return true;
      }
      if (chunk.usage) {
        this.tap.usage = chunk.usage;
        if (!this.options.clientWantsUsage && Array.isArray(chunk.choices) && chunk.choices.length === 0) return false;
      }
    }
    this.tap.sawData = true;
    return true;
  }
}

export class IdleTimeout extends Error {
  constructor(ms: number) {
    super(`no data from upstream for ${ms} ms`);
    this.name = "IdleTimeout";
  }
}

function emptyStream(message: string): UpstreamError {
  return { status: 502, code: null, type: null, message, body: "" };
}
