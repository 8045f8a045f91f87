// Server-sent events framing for the OpenAI stream format.

export const SSE_DONE = "data: [DONE]\n\n";

/** One `data:` frame holding a JSON value, as the OpenAI SDKs parse it. */
export function sseData(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
} as const;

/** One named event (`event:` + `data:` lines), as the Responses API streams them. */
export function sseEvent(name: string, value: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(value)}\n\n`;
}
