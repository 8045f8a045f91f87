// A chat completion stream -> Messages API events: message_start, then one content block at a time
// (content_block_start, its deltas, content_block_stop), then message_delta (stop_reason, usage)
// and message_stop. The chat stream comes from the relay: it begins with content (failover is over
// by then) and reports a failure as `data: {"error":...}`. Such an error, or an end with neither a
// finish_reason nor [DONE] (what the relay and the log count as complete), ends the stream with an
// `error` event, never message_stop.
import type { AnthropicContentBlock, AnthropicDelta, AnthropicRequest, AnthropicStreamEvent, AnthropicUsage } from "../../shared/anthropic.ts";
import { sseEvent } from "../../shared/sse.ts";
import { ChatChunkReader, translateChatStream, type ChatChoice, type ChatDelta, type ChatStreamTranslator } from "../stream/translate.ts";
import { anthropicUsage, messageShell, stopReason, toolUseId } from "./response.ts";

type ToolCallDelta = NonNullable<ChatDelta["tool_calls"]>[number];
type Open = { kind: "text" | "thinking"; index: number } | { kind: "tool"; index: number; call: number };

export class MessagesTranslator extends ChatChunkReader implements ChatStreamTranslator {
  private readonly emit: (event: AnthropicStreamEvent) => void;
  private blocks = 0;
  private open: Open | undefined;
  /** Each chat tool call index -> its block index (a late delta of a closed call still names its block). */
  private readonly calls = new Map<number, number>();
  private finishReason: string | null | undefined;
  private matched: unknown;

  private readonly request: Pick<AnthropicRequest, "model" | "stop_sequences">;
  /** The router's estimate of the prompt, for message_start (the real count comes in message_delta). */
  private readonly inputEstimate: number;

  private readonly withHead: boolean;

  constructor(request: Pick<AnthropicRequest, "model" | "stop_sequences">, enqueue: (frame: string) => void, inputEstimate = 0, withHead = true) {
    super();
    this.request = request;
    this.inputEstimate = inputEstimate;
    this.withHead = withHead;
    this.emit = (event) => enqueue(sseEvent(event.type, event));
  }

  /** message_start and a ping (as Anthropic begins), unless they were sent while the walk went on (pings.ts). */
  start(): void {
    if (!this.withHead) return;
    this.emit({ type: "message_start", message: messageShell(this.request.model, this.inputEstimate) });
    this.emit({ type: "ping" });
  }

  protected choice(choice: ChatChoice, delta: ChatDelta, reasoning: string | undefined): void {
    if (reasoning) this.textDelta("thinking", { type: "thinking_delta", thinking: reasoning });
    // An anthropic provider's signature of the thinking block (edge/providers/anthropic/stream.ts).
    const signature = (delta as { reasoning_signature?: unknown }).reasoning_signature;
    if (typeof signature === "string" && this.open?.kind === "thinking") this.emit({ type: "content_block_delta", index: this.open.index, delta: { type: "signature_delta", signature } });
    if (typeof delta.content === "string" && delta.content !== "") this.textDelta("text", { type: "text_delta", text: delta.content });
    for (const call of delta.tool_calls ?? []) this.toolCallDelta(call);
    if (choice.finish_reason) {
      this.finishReason = choice.finish_reason;
      this.matched = choice.stop_reason;
    }
  }

  end(): void {
    if (this.error !== undefined || !(this.finishReason || this.sawDone)) {
      const message = this.error?.message ?? "the stream ended before the answer was complete";
      this.emit({ type: "error", error: { type: "api_error", message } });
      return;
    }
    this.close();
    // No usage from upstream: output_tokens only, so message_start's estimate of the input stands.
    const usage: Partial<AnthropicUsage> & { output_tokens: number } = this.usage ? anthropicUsage(this.usage) : { output_tokens: 0 };
    this.emit({ type: "message_delta", delta: stopReason(this.finishReason, this.matched, this.request.stop_sequences), usage });
    this.emit({ type: "message_stop" });
  }

  private begin(open: Open, block: AnthropicContentBlock): void {
    this.close();
    this.open = open;
    this.blocks++;
    this.emit({ type: "content_block_start", index: open.index, content_block: block });
  }

  private close(): void {
    if (!this.open) return;
    this.emit({ type: "content_block_stop", index: this.open.index });
    this.open = undefined;
  }

  private textDelta(kind: "text" | "thinking", delta: AnthropicDelta): void {
    if (this.open?.kind !== kind) {
      this.begin({ kind, index: this.blocks }, kind === "text" ? { type: "text", text: "" } : { type: "thinking", thinking: "", signature: "" });
    }
    this.emit({ type: "content_block_delta", index: this.open!.index, delta });
  }

  /** Each chat tool call is its own tool_use block (parallel calls come one after another). */
  private toolCallDelta(call: ToolCallDelta): void {
    let index = this.calls.get(call.index);
    if (index === undefined) {
      index = this.blocks;
      this.calls.set(call.index, index);
      this.begin({ kind: "tool", index, call: call.index }, { type: "tool_use", id: call.id || toolUseId(), name: call.function?.name ?? "", input: {} });
    }
    const args = call.function?.arguments;
    if (args) this.emit({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: args } });
  }
}

type StreamRequest = Pick<AnthropicRequest, "model" | "stop_sequences">;

/** The chat SSE body (bytes) as the Messages SSE body (bytes); withHead false: message_start was sent already. */
export function toMessagesStream(chatBody: ReadableStream<Uint8Array>, request: StreamRequest, inputEstimate: number, withHead = true): ReadableStream<Uint8Array> {
  return translateChatStream(chatBody, (enqueue) => new MessagesTranslator(request, enqueue, inputEstimate, withHead));
}

/** The frames a Messages stream begins with (message_start, ping). */
export function messagesHead(request: StreamRequest, inputEstimate: number): string {
  let head = "";
  new MessagesTranslator(request, (frame) => (head += frame), inputEstimate).start();
  return head;
}
