// The body limit when the client sends no content-length (a chunked body): the Worker counts the
// bytes as they arrive and answers 413 past max_body_bytes, as it does from the header.
import { describe, expect, it } from "vitest";
import { call, chainConfig, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

checkLogInvariant();

const LIMIT = 1024;

/** A body in 256-byte pieces from a stream of unknown length, so no content-length goes with it. */
function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + 256));
      offset += 256;
    },
  });
}

async function limited() {
  const a = await scenario();
  return { a, config: { ...chainConfig({ a: provider(a.baseUrl) }), max_body_bytes: LIMIT } };
}

describe("a chunked body without content-length", () => {
  it("is sent without content-length by this test", () => {
    const request = new Request("http://inferrouter.test/", { method: "POST", body: chunked("{}") });
    expect(request.headers.get("content-length")).toBeNull();
  });

  it("gets 413 request_too_large past max_body_bytes, and the provider is not called", async () => {
    const { a, config } = await limited();
    const body = JSON.stringify(chat({ messages: [{ role: "user", content: "x".repeat(4 * LIMIT) }] }));
    const res = await call({ config, rawBody: chunked(body) });
    expect(res.status).toBe(413);
    const { error } = (await res.json()) as { error: Record<string, unknown> };
    expect(error).toEqual({
      message: `Request body is larger than max_body_bytes (${LIMIT} bytes): send less, or raise max_body_bytes in the config`,
      type: "invalid_request_error",
      param: null,
      code: "request_too_large",
    });
    expect(await a.calls()).toHaveLength(0);
  });

  it("is read whole and answered when it is within the limit", async () => {
    const { a, config } = await limited();
    const res = await call({ config, rawBody: chunked(JSON.stringify(chat({ messages: [{ role: "user", content: "y".repeat(600) }] }))) });
    expect(res.status).toBe(200);
    const [upstream] = await a.calls();
    expect(upstream!.body.messages).toEqual([{ role: "user", content: "y".repeat(600) }]);
  });
});
