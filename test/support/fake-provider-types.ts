// The fake provider's scripting protocol, shared by the Node server and the tests in workerd
// (so this file imports nothing from Node).

declare module "vitest" {
  export interface ProvidedContext {
    fakeProviderUrl: string;
    closedPort: number;
  }
}

export type Step =
  | { type: "json"; status?: number; body?: unknown; headers?: Record<string, string>; content?: string }
  | {
      type: "sse";
      /** Data payloads: objects are JSON-encoded, strings sent as they are ("[DONE]"). Default: a short answer. */
      events?: Array<unknown>;
      content?: string;
      /** Raw text written before the events (comments, odd framing). */
      prelude?: string;
      /** How the stream ends after the events: [DONE] (default), a clean close, a reset, or a hang. */
      end?: "done" | "close" | "reset" | "hang";
      /** Milliseconds between events. */
      gap_ms?: number;
      status?: number;
      headers?: Record<string, string>;
    }
  | { type: "raw"; status: number; body: string; headers?: Record<string, string> }
  | { type: "hang" }
  | { type: "reset" }
  | { type: "reset_mid_body" };

export interface Script {
  steps: Step[];
  /** When the steps run out: repeat the last one (default) or answer a plain success. */
  after?: "repeat_last" | "success";
}

export interface RecordedCall {
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}
