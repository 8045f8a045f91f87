// An Anthropic Messages event stream as a chat completions stream, so the relay and everything
// after it (first token, idle limit, usage, finish reason, the honest end) read one wire. One frame
// out per event that says something a chat client reads; a text or JSON delta is one JSON.parse in
// and one string concatenation out. `ping` becomes an SSE comment (it keeps the idle watch fed),
// `error` a chat error frame whose numeric code is the status Anthropic gives its type (529 for
// overloaded_error: a ServerError), message_stop `[DONE]`.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import type { AnthropicErrorType, AnthropicStreamEvent } from "../../../shared/anthropic.ts";
import { finishReasonOf, usageOf } from "./response.ts";

/** The HTTP status of each Anthropic error type: what the chain categorizes a stream's error event by. */
export const ERROR_STATUS: Record<AnthropicErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

const encoder = new TextEncoder();

export function messagesToChatStream(includeUsage: boolean, trimmedPrefill = ""): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let out = "";
  let id = "";
  let created = Math.floor(Date.now() / 1000);
  let head = chunkHead(id, "", created);
  /** Upstream block index → tool call index (tool_use blocks counted from 0). */
  const toolIndex: number[] = [];
  let tools = 0;
  let usage: Record<string, number | null | undefined> = {};
  /** Whitespace cut from a prefill, still to be dropped from the start of the first text. */
  let cut = trimmedPrefill;
  const text = (value: string) => {
    if (cut) [value, cut] = [dropCut(value, cut), ""];
    return value ? chunk(`{"content":${JSON.stringify(value)}}`) : undefined;
  };

  const chunk = (delta: string, finish: string | null = null, extra = "") => {
    out += `${head}${delta},"finish_reason":${finish === null ? "null" : `"${finish}"`}${extra}}]}\n\n`;
  };

  const onEvent = (message: EventSourceMessage) => {
    let event: AnthropicStreamEvent;
    try {
      event = JSON.parse(message.data) as AnthropicStreamEvent;
    } catch {
      return; // not JSON: nothing a chat client could read
    }
    switch (event.type) {
      case "message_start": {
        id = event.message.id;
        head = chunkHead(id, event.message.model, created);
        usage = { ...event.message.usage };
        return chunk('{"role":"assistant","content":""}');
      }
      case "content_block_start": {
        const block = event.content_block;
        if (block.type === "tool_use") {
          toolIndex[event.index] = tools++;
          const call = { index: toolIndex[event.index], id: block.id, type: "function", function: { name: block.name, arguments: "" } };
          return chunk(`{"tool_calls":[${JSON.stringify(call)}]}`);
        }
        if (block.type === "text" && block.text) return text(block.text);
        return;
      }
      case "content_block_delta": {
        const { delta } = event;
        if (delta.type === "text_delta") return text(delta.text);
        if (delta.type === "input_json_delta") {
          return chunk(`{"tool_calls":[{"index":${toolIndex[event.index] ?? 0},"function":{"arguments":${JSON.stringify(delta.partial_json)}}}]}`);
        }
        if (delta.type === "thinking_delta") return chunk(`{"reasoning_content":${JSON.stringify(delta.thinking)}}`);
        // The thinking block's signature, for a Messages client to send back (edge/anthropic/ reads it).
        if (delta.type === "signature_delta") return chunk(`{"reasoning_signature":${JSON.stringify(delta.signature)}}`);
        return; // citations_delta: no chat field holds them
      }
      case "message_delta": {
        // Usage here is cumulative; some compatible vendors send input_tokens only here.
        for (const [key, value] of Object.entries(event.usage ?? {})) if (value != null) usage[key] = value as number;
        const finish = finishReasonOf(event.delta?.stop_reason);
        // The matched stop sequence rides along where vLLM puts it (stop_reason), for a Messages client.
        const sequence = event.delta?.stop_sequence;
        if (finish) chunk("{}", finish, sequence ? `,"stop_reason":${JSON.stringify(sequence)}` : "");
        if (includeUsage) out += `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"choices":[],"usage":${JSON.stringify(usageOf(usage))}}\n\n`;
        return;
      }
      case "message_stop":
        out += "data: [DONE]\n\n";
        return;
      case "ping":
        out += ": ping\n\n";
        return;
      case "error": {
        const { type, message: text } = event.error ?? {};
        out += `data: ${JSON.stringify({ error: { message: text ?? "upstream stream error", type: type ?? "api_error", code: ERROR_STATUS[type] ?? 500 } })}\n\n`;
        return;
      }
      default:
        return; // content_block_stop and event types added later: nothing to say
    }
  };
  const parser = createParser({ onEvent });

  return new TransformStream({
    transform(bytes, controller) {
      parser.feed(decoder.decode(bytes, { stream: true }));
      if (out) {
        controller.enqueue(encoder.encode(out));
        out = "";
      }
    },
  });
}

/** An answer's first text without the whitespace a prefill lost, when it starts with whitespace. */
export function dropCut(text: string, cut: string): string {
  const lead = /^\s*/.exec(text)![0].length;
  return text.slice(Math.min(lead, cut.length));
}

/** Every chunk's text up to its delta, built once per stream. */
function chunkHead(id: string, model: string, created: number): string {
  return `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":`;
}
