// The requests a workerd has started but not ended, read from the event lines serve already
// parses. When workerd goes away with some still open (killed after the grace period, or
// crashed), serve writes one terminal line for each, so every `infer_started` in the day's file
// keeps exactly one terminal line with its request_id, and the line says why.
import { TERMINAL_EVENTS, type EventName, type InferEvent } from "../../shared/events.ts";

type Started = Pick<InferEvent, "request_id" | "route" | "endpoint" | "stream" | "client">;

export class OpenRequests {
  private readonly open = new Map<string, Started>();

  /** Reads one event line: an `infer_started` opens its request, a terminal line closes it. */
  see(line: string): void {
    let event: Partial<InferEvent>;
    try {
      event = JSON.parse(line) as Partial<InferEvent>;
    } catch {
      return;
    }
    if (typeof event.request_id !== "string") return;
    if (event.event === "infer_started") {
      this.open.set(event.request_id, { request_id: event.request_id, route: event.route ?? "", endpoint: event.endpoint, stream: event.stream, client: event.client });
    } else if (TERMINAL_EVENTS.has(event.event as EventName)) {
      this.open.delete(event.request_id);
    }
  }

  get size(): number {
    return this.open.size;
  }

  /** One `infer_cancelled` line per request still open (then none are); `ts` first, as the edge writes it. */
  endAll(reason: "serve_shutdown" | "workerd_exited", message: string): string[] {
    const ts = new Date().toISOString();
    const lines = [...this.open.values()].map((started) =>
      JSON.stringify({ ts, event: "infer_cancelled", ...started, source: "edge", reason, message }),
    );
    this.open.clear();
    return lines;
  }
}
