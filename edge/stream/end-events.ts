// How a stream tells of its end: the client's error event, the idle timeout's abort reason, and
// the failure of a stream that ended before its answer began.
import { openAIError, type ErrorCategory } from "../../shared/errors.ts";
import { sseData } from "../../shared/sse.ts";
import type { UpstreamError } from "../normalize.ts";

const encoder = new TextEncoder();

export class IdleTimeout extends Error {
  constructor(ms: number) {
    super(`no data from upstream for ${ms} ms`);
    this.name = "IdleTimeout";
  }
}

/** An OpenAI error event, the only way to report an error once the stream has started. */
export function errorEvent(message: string, category: ErrorCategory, code: string | null): Uint8Array {
  return encoder.encode(sseData(openAIError(message, category === "Timeout" ? "timeout_error" : "server_error", code)));
}

export function emptyStream(message: string): UpstreamError {
  return { status: 502, code: null, type: null, param: null, message, body: "" };
}
