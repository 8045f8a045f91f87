// The native feed's tap reads a batch of upstream bytes as one string: decoded once, cut at its
// last frame end, and tested once for what the tap needs (usage, an error, a finish reason,
// [DONE]). Only a batch that holds one of those is cut into frames, and only those frames are read
// one by one (relay.ts inspect): a batch of plain content frames costs one decode and two scans.
import { SPACE_BEFORE_COLON, TAP_NEEDS, TAP_NEEDS_COMPACT } from "./chunk.ts";
import { FrameTooLarge, MAX_FRAME_BYTES } from "./frames.ts";

/** A blank line in any of SSE's line ends. */
const FRAME_END = /\r\n\r\n|\n\n|\r\r/g;
const DONE = "|data: ?\\[DONE\\]";
const NEEDS = new RegExp(TAP_NEEDS.source + DONE);
const NEEDS_ALL = new RegExp(NEEDS.source, "g");
/** NEEDS_ALL for a batch with no space before a colon (chunk.ts TAP_NEEDS_COMPACT). */
const NEEDS_COMPACT = new RegExp(TAP_NEEDS_COMPACT.source + DONE, "g");

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
    // Where each frame ends. Without a CR only LF blank lines can end one, and indexOf finds them
    // several times faster than the regex.
    const ends: number[] = [];
    if (text.includes("\r")) {
      FRAME_END.lastIndex = 0;
      while (FRAME_END.exec(text)) ends.push(FRAME_END.lastIndex);
    } else {
      for (let at = text.indexOf("\n\n"); at !== -1; at = text.indexOf("\n\n", at + 2)) ends.push(at + 2);
    }
    const cut = ends.length ? ends[ends.length - 1]! : 0;
    this.carry = text.slice(cut);
    if (this.carry.length > MAX_FRAME_BYTES) throw new FrameTooLarge();
    const whole = text.slice(0, cut);
    // One scan of the batch finds the frames that may need reading; only those are cut out (cutting
    // every frame of a batch that holds the last one cost more than the rest of the tap's work).
    const needed: string[] = [];
    const search = SPACE_BEFORE_COLON.test(whole) ? NEEDS_ALL : NEEDS_COMPACT;
    search.lastIndex = 0;
    let frame = 0;
    for (let match = search.exec(whole); match; match = search.exec(whole)) {
      while (ends[frame]! <= match.index) frame++;
      const frameText = whole.slice(frame ? ends[frame - 1] : 0, ends[frame]);
      // A match that runs past its frame's end is not that frame's.
      if (NEEDS.test(frameText)) needed.push(frameText);
      search.lastIndex = ends[frame]!;
      frame++;
    }
    return { whole, frames: ends.length, needed };
  }
}
