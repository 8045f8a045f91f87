// A Messages stream whose first token is slow: after `pingMs` without the walk's answer, the 200
// and message_start go out, then a `ping` every `pingMs` (what Anthropic sends, and what keeps
// proxies and clients from giving up on a silent connection). The walk goes on underneath:
// failover, first-token limits, quotas. Its answer then streams on from the same message, or, if
// the whole chain failed, ends the stream with an `error` event carrying the walk's error type
// and message (the HTTP status is spent by then). A walk answered within `pingMs` is unchanged:
// its errors keep their status (a 429 with retry-after, which Claude Code and the SDKs retry).
import { anthropicErrorType } from "../../shared/anthropic.ts";
import { sseEvent } from "../../shared/sse.ts";

export interface PingedStart {
  /** message_start and the first ping, as frames. */
  head: string;
  /** The walk's SSE answer, translated, without its head. */
  translate(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
}

const PING = sseEvent("ping", { type: "ping" });

/** The walk's answer if it comes within `pingMs`, else a 200 SSE body that pings until it does. */
export async function pingWhileWaiting(walk: Promise<Response>, pingMs: number, start: PingedStart): Promise<Response | ReadableStream<Uint8Array>> {
  const late = new Promise<undefined>((resolve) => {
    const timer = setTimeout(resolve, pingMs);
    const stop = () => clearTimeout(timer);
    walk.then(stop, stop);
  });
  const answer = await Promise.race([walk, late]);
  if (answer) return answer;
  const encoder = new TextEncoder();
  let stopPings = () => {};
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(encoder.encode(start.head));
      const interval = setInterval(() => controller.enqueue(encoder.encode(PING)), pingMs);
      stopPings = () => clearInterval(interval);
      const res = await walk.finally(stopPings);
      // The client left while the walk went on: its answer is stopped, not read.
      if (cancelled) return void (await res.body?.cancel());
      if (!res.ok || !res.body) {
        const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
        const error = { type: anthropicErrorType(res.status), message: body.error?.message ?? `HTTP ${res.status}` };
        controller.enqueue(encoder.encode(sseEvent("error", { type: "error", error })));
        controller.close();
        return;
      }
      reader = start.translate(res.body).getReader();
    },
    async pull(controller) {
      if (!reader) return;
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      cancelled = true;
      stopPings();
      return reader?.cancel(reason);
    },
  });
}
