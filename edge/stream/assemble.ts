// A `chat.completion` assembled from a streamed answer, for a client that did not ask for a stream
// from a provider that is always called as one (the sidecar: Cloudflare cuts a tunnelled request
// that sends no byte for 100 s). Content, tool calls (merged by index), finish_reason and usage.
import { EventSourceParserStream } from "eventsource-parser/stream";
import type { ChatCompletion, ChatCompletionChunk, FinishReason, ToolCall, Usage } from "../../shared/openai.ts";
import { errorStatus, readUpstreamError, type UpstreamError } from "../normalize.ts";

export type Assembled = { ok: true; completion: ChatCompletion } | { ok: false; error: UpstreamError };

const broken = (message: string): Assembled => ({ ok: false, error: { status: 502, code: null, type: null, param: null, message, body: "" } });

/** Reads the whole stream; read errors (a reset, the attempt's timeout) are thrown to the caller. */
export async function assembleCompletion(body: ReadableStream<Uint8Array>): Promise<Assembled> {
  let first: ChatCompletionChunk | undefined;
  let content = "";
  let refusal: string | null = null;
  const calls: ToolCall[] = [];
  let finishReason: FinishReason | null = null;
  let usage: Usage | undefined;
  const events = body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  for await (const event of events) {
    if (event.data === "[DONE]") break;
    let chunk: ChatCompletionChunk & { error?: unknown };
    try {
      chunk = JSON.parse(event.data);
    } catch {
      continue; // not JSON: dropped, as the relay drops it from a stream
    }
    if (chunk.error) return { ok: false, error: readUpstreamError(errorStatus(chunk.error), event.data) };
    first ??= chunk;
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    if (typeof choice.delta?.content === "string") content += choice.delta.content;
    if (typeof choice.delta?.refusal === "string") refusal = (refusal ?? "") + choice.delta.refusal;
    for (const delta of choice.delta?.tool_calls ?? []) {
      const call = (calls[delta.index] ??= { id: "", type: "function", function: { name: "", arguments: "" } });
      if (delta.id) call.id = delta.id;
      if (delta.function?.name) call.function.name += delta.function.name;
      if (delta.function?.arguments) call.function.arguments += delta.function.arguments;
    }
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  if (!first || !finishReason) return broken("upstream stream ended before the answer was complete");
  const toolCalls = calls.filter(Boolean);
  return {
    ok: true,
    completion: {
      id: first.id,
      object: "chat.completion",
      created: first.created,
      model: first.model,
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: toolCalls.length && !content ? null : content,
            refusal,
            ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
          },
          logprobs: null,
          finish_reason: finishReason,
        },
      ],
      // Always asked for (stream_options.include_usage); left out rather than made up when missing.
      ...(usage && { usage }),
    } as ChatCompletion,
  };
}
