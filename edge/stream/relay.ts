// Relays an upstream SSE stream to the client. Until the answer begins (content, reasoning, a tool
// call or a finish reason) nothing is sent, so the chain can still fail over; after that, upstream
// bytes pass through as they are, frame by frame.
// Only whole frames (frames.ts) are forwarded: an SSE client can act on nothing less, and it lets
// the relay drop the usage chunk that was asked for on the client's behalf. A tap reads each frame
// once (eventsource-parser) to capture usage and finish_reason.
// A committed stream that breaks can be continued on another provider (continuation.ts): the relay
// then pipes that provider's stream into the same client stream. Only then does it keep the text.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { SSE_DONE, sseData } from "../../shared/sse.ts";
import { errorStatus, readUpstreamError, type UpstreamError } from "../normalize.ts";
import { beginsAnswer, carriesAnswer, FINISH_REASON, OBJECT_SHAPE, PLAIN_OBJECT_FRAME, TAP_NEEDS, type Chunk } from "./chunk.ts";
import { emptyStream, errorEvent, IdleTimeout } from "./end-events.ts";
import { concatFrames, FrameSplitter, FrameTooLarge } from "./frames.ts";
import { IdleWatch } from "./idle.ts";
import { KeptText } from "./kept.ts";
import { BatchScanner } from "./batch-scan.ts";
import { NativeFeed } from "./native.ts";
import { RestartMatch } from "./restart.ts";
import type { ContinuationEnd, ContinuedStream, ContinueWith, PeekResult, Segment, StreamEnd, StreamFailure, StreamTap } from "./types.ts";

interface RelayOptions {
  clientWantsUsage: boolean;
  /** The client's disconnect: checked after every read of the peek, so nothing fails over for a client that left. */
  clientSignal: AbortSignal;
  /** Ends the upstream call: used for the idle timeout, a break, [DONE] and when the client goes away. */
  abort: (reason: unknown) => void;
  idleTimeoutMs: number;
  /** What a read failure means: the caller knows whether it aborted for a timeout or the client left. */
  readFailure: (error: unknown) => StreamFailure | "cancelled";
  /** An upstream error, categorized by the provider's rules and sanitized of its secrets. */
  describeError: (error: UpstreamError) => StreamFailure;
  /** Set when a later provider can continue this stream: the relay then keeps the text and asks it on a break. */
  continueWith?: ContinueWith;
  /** Set when this relay is itself a continuation. */
  segment?: Segment;
  /** Once the answer began, let the runtime feed the client (native.ts): stream_relay = "native". */
  native?: boolean;
  /** Set when upstream was not asked for usage: the usage is estimated (this prompt estimate, one token a frame). */
  estimatePromptTokens?: number;
  onEnd: (end: StreamEnd) => void;
}

/** Where a stream's last bytes go: the client stream's controller, or the native feed's writer. */
interface Sink {
  enqueue(bytes: Uint8Array): void;
  close(): void;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class SseRelay {
  readonly tap: StreamTap;
  private reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly body: ReadableStream<Uint8Array>;
  /** The native feed, once the client's stream is fed natively, and its tap's reading of each batch. */
  private feed: NativeFeed | undefined;
  private scanner: BatchScanner | undefined;
  /** Frames seen since the answer began: the estimate of its tokens when upstream gave no usage. */
  private answerFrames = 0;
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
  /** The longest silence between upstream events once the answer has begun (stream_idle_timeout_ms). */
  private readonly idle: IdleWatch;
  /** Aborted when the client's stream is cancelled, which workerd does not always signal on the request. */
  private readonly gone = new AbortController();
  /** Set by an error event seen before the answer began: the chain walk moves on. */
  private pendingError: UpstreamError | undefined;
  /** Set by an error event after the answer began, when the stream will be continued instead of ended. */
  private breakError: StreamFailure | undefined;
  /** Set for a restarted segment: matches its answer against the client's text. */
  private readonly restart: RestartMatch | undefined;
  /** A restart that departed from the client's text: the stream ends honestly, never continued. */
  private diverged = false;
  /** Frames kept for a possible continuation, unread until a break. */
  private readonly kept = new KeptText();
  /** The stream carrying on from this one's break, once one is found. */
  private continuation: { reader: ReadableStreamDefaultReader<Uint8Array>; ended: Promise<ContinuationEnd> } | undefined;

  constructor(body: ReadableStream<Uint8Array>, options: RelayOptions) {
    this.body = body;
    this.restart = options.segment?.restart ? new RestartMatch(options.segment.carried) : undefined;
    this.reader = body.getReader();
    this.options = options;
    this.idle = new IdleWatch(options.idleTimeoutMs, () => options.abort(new IdleTimeout(options.idleTimeoutMs)));
    this.tap = { sawAnswer: false, sawDone: false, droppedEvents: 0, sawToolCall: false, text: options.segment?.carried ?? "", chunkId: options.segment?.chunkId };
  }

  /** Keeps the text (and so reads every frame): only when a later provider could continue a break. */
  private get keepsText(): boolean {
    return this.options.continueWith !== undefined;
  }


  /**
   * Reads until the answer begins (ok), or until upstream shows it will not give one: an error
   * event, [DONE] or the end before any content, or a broken frame; or until the client leaves.
   */
  async peek(): Promise<PeekResult> {
    for (;;) {
      const { done, value } = await this.reader.read();
      // A read that ends (or fails) because the client left must not look like a provider failure.
      if (this.options.clientSignal.aborted) return { ok: false, cancelled: true };
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
    // A continuation rewrites every chunk: only the frames relay can.
    if (this.options.native && !this.options.segment) return this.feedNatively();
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        for (const frame of this.held.splice(0)) controller.enqueue(frame);
      },
      pull: (controller) => this.pump(controller),
      cancel: (reason) => this.clientGone(reason),
    });
  }

  /**
   * The native feed (native.ts): the held frames and any unfinished frame go first, then the
   * runtime pipes upstream to the client while the tap reads the same bytes in batches.
   */
  private feedNatively(): ReadableStream<Uint8Array> {
    const head = [...this.held.splice(0), this.splitter.unfinished].filter((bytes) => bytes.length);
    this.reader.releaseLock();
    this.scanner = new BatchScanner(this.splitter.unfinished);
    this.feed = new NativeFeed(this.body, head.length ? concatFrames(head) : undefined, this.options.idleTimeoutMs, {
      batch: (bytes) => this.tapBatch(bytes),
      upstreamSettled: (error) => void this.nativeSettled(error),
      idle: () => this.options.abort(new IdleTimeout(this.options.idleTimeoutMs)),
      clientGone: (reason) => this.clientGone(reason),
    });
    return this.feed.readable;
  }

  /** Where the native feed's last bytes go: written once the pipe has stopped, then the client's stream closes. */
  private feedSink(): Sink {
    const last: Uint8Array[] = [];
    // Upstream cut inside a frame: the client has half of it; a blank line ends it before the relay's own words.
    if (this.scanner?.carry) last.push(encoder.encode("\n\n"));
    return { enqueue: (bytes) => last.push(bytes), close: () => void this.feed!.end(last) };
  }

  /** One batch of the native feed's tap: read frame by frame; true when the stream ends now (a frame too large). */
  private tapBatch(bytes: Uint8Array): boolean {
    if (this.finished) return true;
    try {
      const batch = this.scanner!.push(bytes);
      this.answerFrames += batch.frames - batch.needed.length;
      // Kept whole, so the needed frames are read without keeping them a second time.
      if (this.keepsText) this.kept.push(batch.whole);
      for (const frame of batch.needed) this.inspect(encoder.encode(frame), false);
    } catch (error) {
      // FrameTooLarge: the frame will never end; stop upstream from sending the rest of it.
      this.options.abort(error);
      void this.broken(this.feedSink(), { category: "ServerError", message: (error as Error).message });
      return true;
    }
    // A [DONE] or an error event: the client's pipe may still be delivering the bytes before it,
    // so the stream ends when upstream closes (or at the idle limit, for one that stays open).
    return false;
  }

  /** Upstream ended or failed under the native feed; the client has every byte of it. */
  private async nativeSettled(error: unknown): Promise<void> {
    if (this.finished) return;
    const sink = this.feedSink();
    if (this.tap.sawDone || this.tap.upstreamError) return this.endNow(sink);
    if (error === undefined) {
      if (this.tap.finishReason) return this.completeWithDone(sink);
      return this.broken(sink, { category: "NetworkError", message: "upstream stream ended before the answer was complete" });
    }
    const failure = this.options.readFailure(error);
    if (failure === "cancelled") {
      this.finish({ outcome: "cancelled", tap: this.tap });
      return sink.close();
    }
    if (this.tap.finishReason) return this.completeWithDone(sink);
    return this.broken(sink, failure);
  }

  /** The client went away: stop reading upstream (and any continuation) and end as cancelled. */
  clientGone(reason: unknown): void {
    if (this.finished) return;
    void this.feed?.stop();
    this.gone.abort(reason);
    this.releaseUpstream(reason);
    this.continuation?.reader.cancel(reason).catch(() => {});
    this.finish({ outcome: "cancelled", tap: this.tap });
  }

  /** Ends the upstream call; its connection is not needed any more. */
  private releaseUpstream(reason: unknown): void {
    this.options.abort(reason);
    this.reader.cancel(reason).catch(() => {});
  }

  /**
   * Forwards the frames of the next upstream read that has any to forward; closes the client
   * stream at the end. It keeps reading past chunks that were all dropped: workerd does not call
   * pull again after one that enqueued nothing.
   */
  private async pump(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      if (this.continuation) return this.pipeContinuation(controller);
      this.idle.readStarted();
      let forwarded: Uint8Array[];
      let chunk: Uint8Array;
      try {
        const result = await this.reader.read();
        if (result.done) return await this.upstreamEnded(controller);
        chunk = result.value;
        forwarded = this.relayFrames(chunk);
      } catch (error) {
        if (this.finished) return; // the client cancelled: nothing left to tell it
        let failure: StreamFailure | "cancelled";
        if (error instanceof FrameTooLarge) {
          // The frame will never end: stop upstream from sending the rest of it.
          this.options.abort(error);
          failure = { category: "ServerError", message: error.message };
        } else {
          failure = this.options.readFailure(error);
        }
        if (failure === "cancelled") {
          this.finish({ outcome: "cancelled", tap: this.tap });
          controller.close();
          return;
        }
        // The answer had finished (its finish_reason came): a cut or a stall now loses nothing.
        if (this.tap.finishReason && !(error instanceof FrameTooLarge)) return this.completeWithDone(controller);
        return await this.broken(controller, failure);
      } finally {
        this.idle.readEnded();
      }
      if (forwarded.length) {
        // The common case: a chunk of whole frames, all forwarded as they were, goes on as the very bytes upstream sent.
        controller.enqueue(forwarded.length === 1 && forwarded[0] === chunk ? chunk : concatFrames(forwarded));
      }
      if (this.breakError) return await this.broken(controller, this.breakError);
      if (this.tap.sawDone || this.tap.upstreamError) return this.endNow(controller);
      if (forwarded.length) return;
    }
  }

  /**
   * [DONE] or a forwarded error event ends the client's stream at once, whatever the upstream
   * connection does afterwards, and releases that connection.
   */
  private endNow(controller: Sink): void {
    this.releaseUpstream(undefined);
    controller.close();
    if (this.tap.upstreamError) this.finish({ outcome: "failed", tap: this.tap, ...this.tap.upstreamError });
    else this.finish({ outcome: "completed", tap: this.tap });
  }

  /** The frames of one upstream chunk that go to the client (the chunk itself when all go unchanged). */
  private relayFrames(chunk: Uint8Array): Uint8Array[] {
    const frames = this.splitter.push(chunk);
    const out: Uint8Array[] = [];
    let unchanged = true;
    for (const frame of frames) {
      // Nothing after [DONE] or an error event that ends the stream goes to the client.
      if (this.tap.sawDone || this.tap.upstreamError || this.breakError || this.pendingError) {
        unchanged = false;
        break;
      }
      const forward = this.inspect(frame);
      if (forward !== frame) unchanged = false;
      if (forward) out.push(forward);
    }
    return unchanged && this.splitter.aligned && frames.length ? [chunk] : out;
  }

  /** Upstream ended: complete when the answer was (adding [DONE] if upstream left it out), else a break. */
  private async upstreamEnded(controller: Sink): Promise<void> {
    const tail = this.splitter.end();
    const forward = tail && !this.tap.sawDone ? this.inspect(tail) : null;
    if (forward) controller.enqueue(concatFrames([forward]));
    if (this.breakError) return this.broken(controller, this.breakError);
    if (this.tap.sawDone || this.tap.upstreamError) return this.endNow(controller);
    if (this.tap.finishReason) return this.completeWithDone(controller);
    return this.broken(controller, { category: "NetworkError", message: "upstream stream ended before the answer was complete" });
  }

  /** The answer is whole but upstream left out [DONE] (or broke after its finish reason): the edge adds it. */
  private completeWithDone(controller: Sink): void {
    this.releaseUpstream(undefined);
    controller.enqueue(encoder.encode(SSE_DONE));
    controller.close();
    this.finish({ outcome: "completed", tap: this.tap });
  }

  /** Whether a break now can be continued: text only, unfinished, not too long, and a later provider that can. */
  private canContinue(): boolean {
    this.kept.read((chunk) => this.keep(chunk));
    return !this.diverged && this.keepsText && !this.kept.overflow && this.tap.sawAnswer && !this.tap.sawToolCall && !this.tap.finishReason && this.tap.chunkId !== undefined;
  }

  /** The committed stream broke: continue it on another provider when one can, else end it honestly. */
  private async broken(controller: Sink, failure: StreamFailure): Promise<void> {
    const original = this.options.segment?.original ?? failure;
    this.tap.broke = failure;
    if (this.canContinue() && this.options.continueWith) {
      this.releaseUpstream(failure);
      const signal = AbortSignal.any([this.options.clientSignal, this.gone.signal]);
      const next = await this.options.continueWith({ failure, text: this.tap.text, chunkId: this.tap.chunkId!, original, signal });
      if (this.finished) {
        // The client left while the continuation was being found.
        await next?.body.cancel().catch(() => {});
        return;
      }
      if (next && this.feed) return this.feedContinuation(next);
      if (next) {
        this.continuation = { reader: next.body.getReader(), ended: next.ended };
        return this.pipeContinuation(controller as ReadableStreamDefaultController<Uint8Array>);
      }
    }
    this.failClient(controller, original, failure);
  }

  /** Forwards the continuation's next bytes (already in this stream's shape); its end is this stream's end. */
  private async pipeContinuation(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    const { reader, ended } = this.continuation!;
    const result = await reader.read().catch(() => ({ done: true as const, value: undefined }));
    if (this.finished) return;
    if (!result.done) return controller.enqueue(result.value);
    const end = await ended;
    controller.close();
    this.finish({ ...end, tap: this.tap });
  }

  /** The native feed's continuation: piped natively into the client's stream; its end is this stream's end. */
  private async feedContinuation(next: ContinuedStream): Promise<void> {
    const feed = this.feed!;
    await feed.stop();
    await next.body.pipeTo(feed.writable, { preventClose: true }).catch(() => {});
    const end = await next.ended;
    // Logged before the client's stream closes, as the frames relay does.
    this.finish({ ...end, tap: this.tap });
    await feed.end([]);
  }

  /**
   * Ends the client's stream with an OpenAI error event (never a clean [DONE]) and logs it. The
   * message names the request's first break; a continuation's own failure comes after it.
   */
  private failClient(controller: Sink, original: StreamFailure, failure: StreamFailure) {
    const message = failure === original ? original.message : `${original.message}; continuing the answer failed too: ${failure.message}`;
    controller.enqueue(errorEvent(`Stream interrupted: ${message}`, original.category, "stream_interrupted"));
    controller.close();
    this.finish({ outcome: "failed", tap: this.tap, category: failure.category, message });
  }

  private finish(end: StreamEnd): void {
    if (this.finished) return;
    this.finished = true;
    this.idle.stop();
    if (!this.tap.usage && this.options.estimatePromptTokens !== undefined) {
      const completion = this.answerFrames;
      this.tap.usage = { prompt_tokens: this.options.estimatePromptTokens, completion_tokens: completion, total_tokens: this.options.estimatePromptTokens + completion };
      this.tap.usageEstimated = true;
    }
    this.options.onEnd(end);
  }

  /**
   * Reads one whole frame into the tap. Returns what goes to the client: the frame itself, a
   * rewritten one (a continuation's chunks, sanitized upstream error events), or null (the usage
   * chunk the client did not ask for, `event:`-only frames, which crash SDKs, data that is not JSON).
   */
  private inspect(frame: Uint8Array, keep = true): Uint8Array | null {
    const text = decoder.decode(frame);
    if (this.tap.sawAnswer) this.answerFrames++;
    if (keep && this.keepsText && !this.options.segment) this.kept.push(text);
    // The hot path, once the answer is flowing and nothing is rewritten: a frame that is one `data:`
    // line holding a JSON object, with no usage, error or finish reason in it, needs nothing from
    // the tap and goes on as it is, unparsed. Anything else takes the parser below.
    if (this.tap.sawAnswer && !this.options.segment && PLAIN_OBJECT_FRAME.test(text) && !TAP_NEEDS.test(text)) return frame;
    this.event = undefined;
    this.comment = false;
    this.parser.feed(text);
    // The parser's callbacks set these synchronously during feed().
    const data = (this.event as EventSourceMessage | undefined)?.data;
    if (data === undefined) return this.comment ? frame : null;
    if (data === "[DONE]") {
      this.tap.sawDone = true;
      return frame;
    }
    const finish = FINISH_REASON.exec(data);
    if (finish) this.tap.finishReason = finish[1];
    // Once the answer is flowing, parse only the frames that can hold what the tap needs, unless
    // the text is kept or the chunks rewritten for a continuation.
    if (this.tap.sawAnswer && !this.options.segment && OBJECT_SHAPE.test(data) && !TAP_NEEDS.test(data)) return frame;
    let chunk: Chunk;
    try {
      chunk = JSON.parse(data) as Chunk;
    } catch {
      this.tap.droppedEvents++;
      return null;
    }
    if (chunk === null || typeof chunk !== "object") {
      this.tap.droppedEvents++;
      return null;
    }
    if (chunk.error) return this.upstreamErrorEvent(chunk.error, data);
    if (chunk.usage) {
      this.tap.usage = chunk.usage;
      if (!this.options.clientWantsUsage && chunk.choices?.length === 0) return null;
    }
    if (!this.tap.sawAnswer && beginsAnswer(chunk)) this.tap.sawAnswer = true;
    if (this.tap.chunkId === undefined && typeof chunk.id === "string") this.tap.chunkId = chunk.id;
    // A continuation's relay parses every frame anyway: it keeps its text as it goes.
    if (!this.options.segment) return frame;
    const out = this.asContinuation(chunk);
    if (out && this.keepsText) this.keep(chunk);
    return out;
  }

  /** An error event: before the answer, a failure to fail over on; after it, a break or the stream's honest end. */
  private upstreamErrorEvent(errorBody: unknown, data: string): Uint8Array | null {
    const error = readUpstreamError(errorStatus(errorBody), data);
    if (!this.tap.sawAnswer) {
      this.pendingError = error;
      return null;
    }
    const described = this.options.describeError(error);
    // Under the native feed the client has the event already: it ends the stream, never continued.
    if (!this.feed && this.canContinue()) {
      this.breakError = described;
      return null;
    }
    this.tap.upstreamError = described;
    this.tap.broke = described;
    return errorEvent(described.message, described.category, error.code);
  }

  /** The text of the first choice, and whether a tool call began, for a possible continuation. */
  private keep(chunk: Chunk): void {
    const delta = chunk.choices?.[0]?.delta;
    if (!delta) return;
    if (typeof delta.content === "string") this.tap.text += delta.content;
    if (delta.tool_calls?.length) this.tap.sawToolCall = true;
  }

  /**
   * A continuation's chunk as the client's stream needs it: the stream's chunk id, and no second
   * role (its role-only first chunk is dropped), so the client sees one answer without a seam.
   */
  private asContinuation(chunk: Chunk): Uint8Array | null {
    if (this.restart) {
      const step = this.restart.step(chunk);
      this.tap.matchedChars = this.restart.matched;
      if (step === "diverged") {
        this.diverged = true;
        this.breakError = { category: "ServerError", message: `the restarted answer departed from the text already sent after ${this.restart.matched} characters` };
        return null;
      }
      if (step === "drop") return null;
    }
    const choices = chunk.choices ?? [];
    for (const choice of choices) if (choice?.delta) delete choice.delta.role;
    const empty = choices.length > 0 && choices.every((choice) => !choice?.finish_reason && !carriesAnswer(choice?.delta));
    if (empty && !chunk.usage) return null;
    chunk.id = this.options.segment!.chunkId;
    return encoder.encode(sseData(chunk));
  }
}

