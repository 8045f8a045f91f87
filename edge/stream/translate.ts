// A chat completion SSE body translated into another API's events (Responses, Messages), chunk by
// chunk. Every chat chunk read is translated at once and its events go on together as one write:
// nothing waits for later input, and the client gets one write per upstream chunk rather than one
// per event (each write costs a trip through the runtime).
import { createParser } from "eventsource-parser";
import { reasoningOf, type ChatLogprobs, type ChatUsage } from "../responses/response.ts";

/** One chat completion chunk, as far as the translators read it. */
export interface ChatChunk {
  error?: { message?: string; code?: string | null; param?: string | null };
  usage?: ChatUsage | null;
  choices?: Array<{
    finish_reason?: string | null;
    /** vLLM: the stop string that ended the answer. */
    stop_reason?: unknown;
    logprobs?: ChatLogprobs | null;
    delta?: {
      content?: string | null;
      reasoning_content?: unknown;
      reasoning?: unknown;
      tool_calls?: Array<{ index: number; id?: string; function?: { name?: string; arguments?: string } }>;
    };
  }>;
}

/** One chat SSE event's data: a chunk, "done" for [DONE], or undefined for data that is not JSON (the relay forwards only what upstream sent; such a frame carries nothing). */
export function readChatChunk(data: string): ChatChunk | "done" | undefined {
  if (data === "[DONE]") return "done";
  try {
    return JSON.parse(data) as ChatChunk;
  } catch {
    return undefined;
  }
}

/** What a translator hears: the start, each chat event's data, the end of the chat stream. */
export interface ChatStreamTranslator {
  start(): void;
  chunk(data: string): void;
  end(): void;
}

export type ChatChoice = NonNullable<ChatChunk["choices"]>[number];
export type ChatDelta = NonNullable<ChatChoice["delta"]>;

/**
 * The chat chunk reading both translators share: [DONE], an upstream error event (nothing after it
 * is read), the usage chunk, then the first choice with its delta and reasoning text.
 */
export abstract class ChatChunkReader {
  protected sawDone = false;
  protected usage: ChatUsage | undefined;
  protected error: { message: string; code: string | null; param: string | null } | undefined;

  chunk(data: string): void {
    if (this.error) return;
    const chunk = readChatChunk(data);
    if (chunk === "done") this.sawDone = true;
    if (typeof chunk !== "object") return;
    if (chunk.error) {
      this.error = { message: chunk.error.message ?? "upstream error", code: chunk.error.code ?? null, param: chunk.error.param ?? null };
      return;
    }
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (!choice) return;
    const delta = choice.delta ?? {};
    this.choice(choice, delta, reasoningOf(delta));
  }

  /** The first choice of a chunk: its delta (never undefined) and the reasoning text it carries. */
  protected abstract choice(choice: ChatChoice, delta: ChatDelta, reasoning: string | undefined): void;
}

/** The chat SSE body (bytes) as the translator's SSE body (bytes); `make` gets the sink for its frames. */
export function translateChatStream(chatBody: ReadableStream<Uint8Array>, make: (enqueue: (frame: string) => void) => ChatStreamTranslator): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let frames: string[] = [];
  const translator = make((frame) => frames.push(frame));
  const parser = createParser({ onEvent: (event) => translator.chunk(event.data) });
  const send = (controller: TransformStreamDefaultController<Uint8Array>) => {
    if (frames.length) controller.enqueue(encoder.encode(frames.join("")));
    frames = [];
  };
  return chatBody.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      start(controller) {
        translator.start();
        send(controller);
      },
      transform(chunk, controller) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        send(controller);
      },
      flush(controller) {
        parser.feed(decoder.decode());
        translator.end();
        send(controller);
      },
    }),
  );
}
