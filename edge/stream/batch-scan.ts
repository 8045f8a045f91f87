// The native feed's tap reads a batch of upstream bytes as one string: decoded once, cut at its
// last frame end, and tested once for what the tap needs (usage, an error, a finish reason,
// [DONE]). Only a batch that holds one of those is cut into frames, and only those frames are read
// one by one (relay.ts inspect): a batch of plain content frames costs one decode and two scans.
import { TAP_NEEDS } from "./chunk.ts";
import { FrameTooLarge, MAX_FRAME_BYTES } from "./frames.ts";

/** A blank line in any of SSE's line ends. */
const FRAME_END = /\r\n\r\n|\n\n|\r\r/g;
const NEEDS = new RegExp(`${TAP_NEEDS.source}|data: ?\\[DONE\\]`);

export interface ScannedBatch {
  /** The batch's whole frames, as one string. */
  whole: string;
  /** How many frames that is. */
  frames: number;
  /** Frames the tap must read one by one (those that may hold what it needs), in order; empty for a plain batch. */
  needed: string[];
}

export class BatchScanner {
  private readonly decoder = new TextDecoder();
  /** An unfinished frame: the client has it as far as it came. */
  carry: string;

  constructor(unfinished: Uint8Array) {
    this.carry = this.decoder.decode(unfinished, { stream: true });
  }

  push(bytes: Uint8Array): ScannedBatch {
    const text = this.carry + this.decoder.decode(bytes, { stream: true });
    let cut = 0;
    let frames = 0;
    FRAME_END.lastIndex = 0;
    while (FRAME_END.exec(text)) {
      cut = FRAME_END.lastIndex;
      frames++;
    }
    this.carry = text.slice(cut);
    if (this.carry.length > MAX_FRAME_BYTES) throw new FrameTooLarge();
    const whole = text.slice(0, cut);
    if (!NEEDS.test(whole)) return { whole, frames, needed: [] };
    // One by one only where a frame may need it; the others are plain content.
    const needed = whole.split(/(?<=\r\n\r\n|\n\n|\r\r)/).filter((frame) => NEEDS.test(frame));
    return { whole, frames, needed };
  }
}
