// Server-sent events framing: cuts a byte stream into whole frames (each ending in a blank line,
// with LF, CRLF or CR line ends as the SSE spec allows) without decoding it, so the relay can pass
// the very bytes upstream sent.

const LF = 10;
const CR = 13;

/** Index just past the blank line that ends the first frame at or after `from`, or -1. */
export function frameEnd(buf: Uint8Array, from: number): number {
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

/** An SSE frame this long without its blank line is not a stream we can relay. */
export const MAX_FRAME_BYTES = 1024 * 1024;

export class FrameTooLarge extends Error {
  constructor() {
    super(`upstream sent an SSE frame over ${MAX_FRAME_BYTES} bytes without ending it`);
    this.name = "FrameTooLarge";
  }
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
    // The tail was scanned already; only a terminator that spans the join can be new there.
    const scanFrom = Math.max(0, this.pending.length - 3);
    if (hadPending) {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending);
      buf.set(chunk, this.pending.length);
    }
    const frames: Uint8Array[] = [];
    let start = 0;
    for (let end = frameEnd(buf, scanFrom); end !== -1; end = frameEnd(buf, start)) {
      frames.push(buf.subarray(start, end));
      start = end;
    }
    if (buf.length - start > MAX_FRAME_BYTES) throw new FrameTooLarge();
    this.pending = buf.slice(start);
    this.aligned = !hadPending && this.pending.length === 0;
    return frames;
  }

  /** The bytes of a frame not finished yet (a stream cut here left the client half a frame). */
  get unfinished(): Uint8Array {
    return this.pending;
  }

  /**
   * The stream ended: the held tail when it is a whole frame that only waited to see whether an LF
   * followed its final CR (CR line ends). An unterminated tail is not an event (the SSE spec drops it).
   */
  end(): Uint8Array | undefined {
    const tail = this.pending;
    this.pending = new Uint8Array(0);
    if (!tail.length) return undefined;
    const probe = new Uint8Array(tail.length + 1); // one byte that is no line end settles the wait
    probe.set(tail);
    const end = frameEnd(probe, 0);
    return end !== -1 && end <= tail.length ? tail.subarray(0, end) : undefined;
  }
}

/** One new buffer holding the given frames back to back. */
export function concatFrames(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((sum, frame) => sum + frame.length, 0));
  let offset = 0;
  for (const frame of frames) {
    out.set(frame, offset);
    offset += frame.length;
  }
  return out;
}
