// The text of a stream that could be continued elsewhere. Frames are kept as they went by and
// read (text, tool calls) only if the stream breaks, so a stream that ends well parses no more
// than one that cannot be continued. Past MAX_KEPT_CHARS nothing more is kept and the stream is
// no longer continued (a longer answer that breaks ends honestly instead).
import { createParser } from "eventsource-parser";
import type { Chunk } from "./chunk.ts";

/** How much of a stream is kept for a continuation. */
const MAX_KEPT_CHARS = 1024 * 1024;

export class KeptText {
  private frames: string[] = [];
  private chars = 0;
  /** Past the cap: the stream cannot be continued. */
  overflow = false;

  /** Keeps one frame (or a run of whole frames) as the client got it. */
  push(text: string): void {
    if (this.overflow) return;
    this.chars += text.length;
    if (this.chars > MAX_KEPT_CHARS) {
      this.overflow = true;
      this.frames = [];
    } else {
      this.frames.push(text);
    }
  }

  /** Reads the frames kept since the last call, each JSON chunk handed to `keep`. */
  read(keep: (chunk: Chunk) => void): void {
    if (!this.frames.length) return;
    const frames = this.frames;
    this.frames = [];
    const parser = createParser({
      onEvent: (event) => {
        try {
          const chunk = JSON.parse(event.data) as Chunk | null;
          if (chunk && typeof chunk === "object") keep(chunk);
        } catch {
          // not JSON: it was dropped when it went by
        }
      },
    });
    for (const frame of frames) parser.feed(frame);
  }
}
