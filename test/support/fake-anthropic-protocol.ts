// The fake provider's Anthropic Messages wire: the answers and stream events a call to
// /s/<id>/v1/messages gets (the fake serves both wires; the path picks). Imports nothing from Node:
// workerd tests script with these too.

export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

export type FakeBlock = { type: "text"; text: string } | { type: "tool_use"; id: string; name: string; input: unknown } | { type: "thinking"; thinking: string; signature: string };

const USAGE: FakeUsage = { input_tokens: 7, output_tokens: 3 };

/** A Messages answer: one text block, or the blocks given. */
export function message(model: string, content: string | FakeBlock[], stop_reason = "end_turn", usage: FakeUsage = USAGE) {
  const blocks = typeof content === "string" ? [{ type: "text", text: content }] : content;
  return { id: "msg_fake", type: "message", role: "assistant", model, content: blocks, stop_reason, stop_sequence: null, usage };
}

/** The events of a streamed Messages answer, text split after each space; tool_use input sent as two JSON halves. */
export function messageEvents(model: string, content: string | FakeBlock[], stop_reason = "end_turn", usage: FakeUsage = USAGE): unknown[] {
  const blocks = typeof content === "string" ? [{ type: "text" as const, text: content }] : content;
  const events: unknown[] = [
    { type: "message_start", message: { ...message(model, [], stop_reason, { ...usage, output_tokens: 1 }), stop_reason: null } },
    { type: "ping" },
  ];
  blocks.forEach((block, index) => {
    if (block.type === "text") {
      events.push({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
      for (const word of block.text.split(/(?<= )/)) events.push({ type: "content_block_delta", index, delta: { type: "text_delta", text: word } });
    } else if (block.type === "thinking") {
      events.push({ type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } });
      events.push({ type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: block.thinking } });
      events.push({ type: "content_block_delta", index, delta: { type: "signature_delta", signature: block.signature } });
    } else {
      events.push({ type: "content_block_start", index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } });
      const json = JSON.stringify(block.input);
      const half = json.length >> 1;
      events.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: json.slice(0, half) } });
      events.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: json.slice(half) } });
    }
    events.push({ type: "content_block_stop", index });
  });
  events.push({ type: "message_delta", delta: { stop_reason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  events.push({ type: "message_stop" });
  return events;
}

/** Anthropic's error body. */
export function anthropicErrorBody(type: string, text: string) {
  return { type: "error", error: { type, message: text } };
}
