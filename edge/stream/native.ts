// The native feed (stream_relay = "native"): once the answer has begun, the runtime feeds the
// client. The upstream body is teed: one branch is piped into the client's stream natively (no
// JavaScript per upstream read or client write); the other is piped into a second native stream
// that the tap reads in large batches (readAtLeast), so JavaScript runs once a batch and once at
// the end, never once per token. Both pipes keep the client's stream open
// (preventClose, preventAbort) so that the relay can still write the stream's end: the [DONE] an
// upstream left out, the honest error event, or a continuation.
//
// The idle limit is read from the batches: a batch is what an eighth of the limit brings at the
// stream's rate so far, and two checks half a limit apart that saw no batch end the stream as idle.
// (A stream that slows down more than eightfold for a whole idle limit is taken as silent.)

/** What the feed asks of its relay: the tap's reading of each batch, and how the stream ends. */
export interface FeedHooks {
  /** A batch of upstream bytes, in order; returns true when the stream must end now (a frame that never ends). */
  batch(bytes: Uint8Array): boolean;
  /** Upstream ended (error undefined) or failed; the client has every byte upstream sent. */
  upstreamSettled(error: unknown): void;
  /** Upstream sent nothing for the idle limit. */
  idle(): void;
  /** The client's stream went away. */
  clientGone(reason: unknown): void;
}

/** The most the tap reads at once: a 1,000-token answer sent at once is 2 or 3 batches. */
const BATCH_BYTES = 64 * 1024;
/** The least: a few frames, until the stream's rate is known. */
const MIN_BATCH_BYTES = 256;

export class NativeFeed {
  /** The client's stream. */
  readonly readable: ReadableStream<Uint8Array>;
  private readonly out: IdentityTransformStream;
  private readonly hooks: FeedHooks;
  private readonly stopClient = new AbortController();
  private readonly clientPiped: Promise<unknown>;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly idleTimeoutMs: number;
  /** Batches the tap has read: the idle check's sign of life. */
  private batches = 0;
  private stopped = false;
  /** Set while a failed client pipe is checked for a client that left (it holds the writer). */
  private probe: Promise<void> | undefined;
  /** Settles when the tap's pipe does: upstream ended or failed. */
  private tapPiped: Promise<unknown> = Promise.resolve();

  /** `head`: bytes the relay already read (the frames held while peeking, an unfinished frame). */
  constructor(body: ReadableStream<Uint8Array>, head: Uint8Array | undefined, idleTimeoutMs: number, hooks: FeedHooks) {
    this.hooks = hooks;
    this.idleTimeoutMs = idleTimeoutMs;
    // Room for the head, so that it is queued before the pipe takes the writable.
    this.out = new IdentityTransformStream({ highWaterMark: Math.max(BATCH_BYTES, head?.length ?? 0) });
    this.readable = this.out.readable;
    if (head?.length) {
      const writer = this.out.writable.getWriter();
      writer.write(head).catch(() => {});
      writer.releaseLock();
    }
    const [toClient, toTap] = body.tee();
    this.clientPiped = toClient
      .pipeTo(this.out.writable, { preventClose: true, preventAbort: true, signal: this.stopClient.signal })
      .then(() => undefined, (error: unknown) => error);
    void this.clientPiped.then((error) => this.clientPipeEnded(error));
    void this.tapLoop(toTap);
    this.arm(Math.max(1, Math.floor(idleTimeoutMs / 2)));
  }

  /** Stops both pipes; the client's stream stays open for the relay's last words (write, then close). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.stopClient.abort();
    await this.clientPiped;
  }

  /** Writes the relay's last bytes (after the pipe ended) and closes the client's stream. */
  async end(last: Uint8Array[]): Promise<void> {
    await this.stop();
    await this.probe;
    const writer = this.out.writable.getWriter();
    for (const bytes of last) await writer.write(bytes).catch(() => {});
    await writer.close().catch(() => {});
  }

  /** The client's writable, for a continuation piped natively after a break. */
  get writable(): WritableStream<Uint8Array> {
    return this.out.writable as WritableStream<Uint8Array>;
  }

  private clientPipeEnded(error: unknown): void {
    if (this.stopped || error === undefined) return;
    this.probe = this.probeClient(error);
  }

  /**
   * The client's pipe failed: upstream failed (then the tap's pipe fails with it, in the same turn)
   * or the client's stream is gone (the tap's pipe goes on). Nothing else tells the two apart: an
   * IdentityTransformStream's writable does not show that its readable was cancelled.
   */
  private async probeClient(error: unknown): Promise<void> {
    const upstreamFailed = await Promise.race([this.tapPiped.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 0))]);
    if (!upstreamFailed && !this.stopped) this.hooks.clientGone(error);
  }

  /**
   * Reads the tap's branch in batches until upstream settles. The branch is piped into a native
   * stream of our own (preventAbort), so that when upstream fails the unfinished batch is still
   * handed over: that stream is closed, and its pending read returns what it holds.
   */
  private async tapLoop(branch: ReadableStream<Uint8Array>): Promise<void> {
    const sink = new IdentityTransformStream();
    let settled: { error: unknown } | undefined;
    const piped = (this.tapPiped = branch
      .pipeTo(sink.writable, { preventClose: true, preventAbort: true })
      .then(() => (settled = { error: undefined }), (error: unknown) => (settled = { error }))
      .finally(() => sink.writable.close().catch(() => {})));
    const reader = sink.readable.getReader({ mode: "byob" });
    const started = Date.now();
    let total = 0;
    let min = MIN_BATCH_BYTES;
    for (;;) {
      const { done, value } = await reader.readAtLeast(min, new Uint8Array(BATCH_BYTES)).catch(() => ({ done: true, value: undefined }));
      if (value?.length && !this.stopped) {
        this.batches++;
        total += value.length;
        if (this.hooks.batch(value)) return;
        // A batch is what an eighth of the idle limit brings at the rate so far: a healthy stream
        // completes several batches within the idle limit, however fast or slow it is.
        const rate = total / Math.max(1, Date.now() - started);
        min = Math.min(BATCH_BYTES, Math.max(MIN_BATCH_BYTES, Math.floor((rate * this.idleTimeoutMs) / 8)));
      }
      if (done) break;
    }
    await piped;
    if (this.stopped) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    // The client's pipe ends with the same upstream: wait for it so the client has every byte first.
    await this.clientPiped;
    await this.probe;
    if (!this.stopped) this.hooks.upstreamSettled(settled?.error);
  }

  /**
   * Every half idle limit: two checks in a row without a batch mean upstream went silent for the
   * idle limit; the relay then aborts it, and the unfinished batch (a [DONE] or an error event an
   * open upstream sent last, say) is read as it settles.
   */
  private arm(every: number): void {
    let seen = this.batches;
    let quiet = 0;
    const check = () => {
      if (this.stopped) return;
      quiet = this.batches === seen ? quiet + 1 : 0;
      seen = this.batches;
      if (quiet >= 2) return this.hooks.idle();
      this.timer = setTimeout(check, every);
    };
    this.timer = setTimeout(check, every);
  }
}
