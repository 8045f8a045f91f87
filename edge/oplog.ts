// The edge's operation log: one JSON line per event through console.log, which Workers Logs and
// Logpush carry as JSONL. One InferLog per request keeps the invariant that an `infer_started`
// is followed by exactly one terminal event.
//
// Lines are written off the client's path: they are kept until the answer has been handed to the
// runtime, then written from a waitUntil task (measured under wrangler dev, where each console.log
// crosses to wrangler's process, writing them inline cost about 3 ms a request).
import type { EventName, InferEvent } from "../shared/events.ts";
import { rememberRecent } from "./recent.ts";

/** Where each line goes besides the log (the usage history): the line and the request's client. */
export type LineSink = (line: InferEvent, client: string | undefined) => void;

type EventFields = Omit<InferEvent, "ts" | "event" | "request_id" | "route" | "source">;
type TerminalName = "infer_completed" | "infer_failed" | "infer_cancelled";

export class InferLog {
  readonly requestId: string;
  readonly startedAt = Date.now();
  route = "";
  client: string | undefined;
  /** The API the client called, named on the start line. */
  endpoint: InferEvent["endpoint"];
  /** The client's wire format where it is not OpenAI's, named on the start and terminal lines. */
  api: InferEvent["api"];
  private started = false;
  private ended = false;
  private readonly pending: string[] = [];
  private flushScheduled = false;
  private readonly defer: (task: Promise<unknown>) => void;

  /** `defer` keeps the isolate alive for a task after the response (ExecutionContext.waitUntil). */
  private readonly sink: LineSink | undefined;

  constructor(requestId: string, defer: (task: Promise<unknown>) => void, sink?: LineSink) {
    this.requestId = requestId;
    this.defer = defer;
    this.sink = sink;
  }

  get isStarted(): boolean {
    return this.started;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  start(route: string, fields: EventFields = {}): void {
    if (this.started) return;
    this.started = true;
    this.route = route;
    this.write("infer_started", { client: this.client, endpoint: this.endpoint, ...(this.api && { api: this.api }), ...fields });
  }

  skipped(fields: EventFields): void {
    this.write("infer_skipped", fields);
  }

  fallback(fields: EventFields): void {
    this.write("infer_fallback", fields);
  }

  /** A failed call about to be made again on the same provider, after `wait_ms`. */
  retry(fields: EventFields): void {
    this.write("infer_retry", fields);
  }

  /** The provider's tracker did not answer; the request went ahead (fail open). */
  quotaUnavailable(fields: EventFields): void {
    this.write("quota_unavailable", fields);
  }

  /** Writes the request's one terminal event (a start first if none was written); later calls are ignored. */
  end(event: TerminalName, fields: EventFields = {}): void {
    if (this.ended) return;
    if (!this.started) this.start(this.route);
    this.ended = true;
    // Nothing generated costs nothing: the answer's writers (chain/outcome.ts) set the real cost.
    this.write(event, { latency_ms: Date.now() - this.startedAt, cost_usd: 0, ...(this.api && { api: this.api }), ...fields });
  }

  private write(event: EventName, fields: EventFields): void {
    const line: InferEvent = {
      ts: new Date().toISOString(),
      event,
      request_id: this.requestId,
      route: this.route,
      source: "edge",
      ...fields,
    };
    rememberRecent(line); // skips and failovers, for the status page
    this.pending.push(JSON.stringify(line));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // A macrotask later: the handler has returned its response by then.
      this.defer(new Promise((resolve) => setTimeout(resolve, 0)).then(() => this.flush()));
    }
    // The hourly history (usage/recorder.ts), after the line's own write is scheduled: the log first.
    this.sink?.(line, this.client);
  }

  /** Writes every line kept so far, one console.log each, in order. */
  flush(): void {
    this.flushScheduled = false;
    for (const line of this.pending.splice(0)) console.log(line);
  }
}
