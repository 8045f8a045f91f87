// A restarted answer (restart_on_break): a provider re-asked without the prefill answers from the
// beginning. While its text repeats what the client already has, its chunks are swallowed; the
// chunk where it passes that text goes on with only the new part; a chunk that departs from it,
// a tool call, or a finish before the client's text was matched is a divergence, and the stream
// then ends honestly. The client never sees the beginning twice.
import type { Chunk } from "./chunk.ts";

export type RestartStep = "drop" | "forward" | "diverged";

export class RestartMatch {
  /** What the client already has and the new answer has not repeated yet. */
  private remaining: string;
  /** Characters of the new answer that matched the client's text. */
  matched = 0;

  constructor(carried: string) {
    this.remaining = carried;
  }

  get done(): boolean {
    return this.remaining.length === 0;
  }

  /** Reads one chunk of the new answer; a chunk that passes the client's text is cut to what is new. */
  step(chunk: Chunk): RestartStep {
    if (this.done) return "forward";
    const choice = chunk.choices?.[0];
    const delta = choice?.delta;
    if (delta?.tool_calls?.length || (chunk.choices?.length ?? 0) > 1) return "diverged";
    const content = typeof delta?.content === "string" ? delta.content : "";
    if (this.remaining.startsWith(content)) {
      this.remaining = this.remaining.slice(content.length);
      this.matched += content.length;
      if (choice?.finish_reason && !this.done) return "diverged"; // it ended before repeating what the client has
      if (!choice?.finish_reason) return "drop";
      delete delta!.content;
      return "forward";
    }
    if (!content.startsWith(this.remaining)) return "diverged";
    this.matched += this.remaining.length;
    delta!.content = content.slice(this.remaining.length);
    this.remaining = "";
    return "forward";
  }
}
