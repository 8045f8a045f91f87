// A chat completion stream -> Responses API events. Each chat chunk is translated as it arrives and
// its events are passed on at once (nothing is held back). The chat stream comes from the relay:
// it begins with content (failover is over by then) and reports a failure as `data: {"error":...}`.
// Such an error, or an end with neither a finish_reason nor [DONE] (what the relay, and so the log
// and /v1/chat/completions, count as complete), ends the response with response.failed and an
// `error` event, never response.completed; the failed response keeps what was streamed.
import type { ResponsesRequest } from "../../shared/responses.ts";
import { sseEvent } from "../../shared/sse.ts";
import { ChatChunkReader, translateChatStream, type ChatChoice, type ChatDelta, type ChatStreamTranslator } from "../stream/translate.ts";
import {
  finalize,
  finishStatus,
  newId,
  outputText,
  responseLogprobs,
  responseShell,
  textPart,
  type FunctionCallItem,
  type MessageItem,
  type OutputItem,
  type OutputText,
  type ReasoningItem,
  type ResponseObject,
} from "./response.ts";

type Emit = (type: string, fields: Record<string, unknown>) => void;

/** The translation's state: the response so far and the output items still open. */
export class ResponsesTranslator extends ChatChunkReader implements ChatStreamTranslator {
  private readonly response: ResponseObject;
  private sequence = 0;
  /** The open message or reasoning item; its one part is filled as deltas arrive, so any snapshot has the text so far. */
  private text: { item: MessageItem | ReasoningItem; index: number; part: { text: string; logprobs?: OutputText["logprobs"] } } | undefined;
  private readonly calls = new Map<number, { item: FunctionCallItem; index: number }>();
  private finishReason: string | null | undefined;
  private readonly emit: Emit;

  constructor(request: ResponsesRequest, enqueue: (frame: string) => void) {
    super();
    this.response = responseShell(request);
    this.emit = (type, fields) => enqueue(sseEvent(type, { type, sequence_number: this.sequence++, ...fields }));
  }

  start(): void {
    this.emit("response.created", { response: this.snapshot() });
    this.emit("response.in_progress", { response: this.snapshot() });
  }

  /** The first choice of one chat chunk (ChatChunkReader read the rest). */
  protected choice(choice: ChatChoice, delta: ChatDelta, reasoning: string | undefined): void {
    if (reasoning) this.textDelta("reasoning", reasoning);
    if (typeof delta.content === "string" && delta.content !== "") this.textDelta("message", delta.content, responseLogprobs(choice.logprobs));
    for (const call of delta.tool_calls ?? []) this.toolCallDelta(call);
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
  }

  /** The chat stream ended: close the open items and send the terminal event. */
  end(): void {
    if (this.error || !(this.finishReason || this.sawDone)) {
      const error = this.error ?? { message: "the stream ended before the answer was complete", code: "stream_interrupted", param: null };
      const failed: ResponseObject = { ...this.snapshot(), status: "failed", error: { code: "server_error", message: error.message }, usage: null };
      // The items still open were cut short; those already done stay completed.
      for (const item of failed.output) if (item.status === "in_progress") item.status = "incomplete";
      failed.output_text = outputText(failed.output);
      this.emit("response.failed", { response: failed });
      this.emit("error", { code: error.code, message: error.message, param: error.param });
      return;
    }
    // A stop for length or content_filter leaves the open items incomplete, as in the JSON answer.
    const status = finishStatus(this.finishReason).status === "completed" ? "completed" : "incomplete";
    this.closeText(status);
    for (const call of [...this.calls.values()]) this.closeCall(call, status);
    const final = finalize(this.snapshot(), this.finishReason, this.usage);
    this.emit(final.status === "completed" ? "response.completed" : "response.incomplete", { response: final });
  }

  private snapshot(): ResponseObject {
    return structuredClone(this.response);
  }

  private addItem(item: OutputItem): number {
    const index = this.response.output.push(item) - 1;
    this.emit("response.output_item.added", { output_index: index, item: structuredClone(item) });
    return index;
  }

  private textDelta(kind: "message" | "reasoning", delta: string, logprobs: OutputText["logprobs"] = []): void {
    if (this.text?.item.type !== kind) {
      this.closeText();
      const item: MessageItem | ReasoningItem =
        kind === "message"
          ? { id: newId("msg"), type: "message", role: "assistant", status: "in_progress", content: [] }
          : { id: newId("rs"), type: "reasoning", summary: [], content: [], status: "in_progress" };
      const index = this.addItem(item);
      const part = kind === "message" ? textPart("") : { type: "reasoning_text" as const, text: "" };
      (item.content as unknown[]).push(part);
      this.emit("response.content_part.added", { item_id: item.id, output_index: index, content_index: 0, part });
      this.text = { item, index, part };
    }
    const open = this.text;
    open.part.text += delta;
    if (logprobs.length) open.part.logprobs!.push(...logprobs);
    const where = { item_id: open.item.id, output_index: open.index, content_index: 0 };
    if (kind === "message") this.emit("response.output_text.delta", { ...where, delta, logprobs });
    else this.emit("response.reasoning_text.delta", { ...where, delta });
  }

  private closeText(status: "completed" | "incomplete" = "completed"): void {
    const open = this.text;
    if (!open) return;
    this.text = undefined;
    const where = { item_id: open.item.id, output_index: open.index, content_index: 0 };
    const { part } = open;
    if (open.item.type === "message") this.emit("response.output_text.done", { ...where, text: part.text, logprobs: part.logprobs });
    else this.emit("response.reasoning_text.done", { ...where, text: part.text });
    this.emit("response.content_part.done", { ...where, part });
    open.item.status = status;
    this.emit("response.output_item.done", { output_index: open.index, item: structuredClone(open.item) });
  }

  private toolCallDelta(delta: NonNullable<ChatDelta["tool_calls"]>[number]): void {
    let open = this.calls.get(delta.index);
    if (!open) {
      this.closeText();
      const item: FunctionCallItem = {
        id: newId("fc"),
        type: "function_call",
        call_id: delta.id ?? newId("fc"),
        name: delta.function?.name ?? "",
        arguments: "",
        status: "in_progress",
      };
      open = { item, index: this.addItem(item) };
      this.calls.set(delta.index, open);
    }
    const args = delta.function?.arguments;
    if (!args) return;
    open.item.arguments += args;
    this.emit("response.function_call_arguments.delta", { item_id: open.item.id, output_index: open.index, delta: args });
  }

  private closeCall(open: { item: FunctionCallItem; index: number }, status: "completed" | "incomplete"): void {
    const { item, index } = open;
    this.emit("response.function_call_arguments.done", { item_id: item.id, output_index: index, name: item.name, arguments: item.arguments });
    item.status = status;
    this.emit("response.output_item.done", { output_index: index, item: structuredClone(item) });
  }
}

/** The chat SSE body (bytes) as the Responses SSE body (bytes). */
export function toResponsesStream(chatBody: ReadableStream<Uint8Array>, request: ResponsesRequest): ReadableStream<Uint8Array> {
  return translateChatStream(chatBody, (enqueue) => new ResponsesTranslator(request, enqueue));
}
