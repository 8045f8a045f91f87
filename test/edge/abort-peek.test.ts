// A client that goes away while the edge is still peeking at a stream's first event (upstream has
// answered 200 but sent no content yet): the request ends cancelled, with exactly one terminal line,
// no infer_fallback after it, and no further provider called on behalf of a client that left.
import { describe, expect, it } from "vitest";
import { call, chainConfig, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();

const roleOnly = { id: "x", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] };

describe("a client abort during the first-event peek", () => {
  it("logs infer_cancelled once, writes no infer_fallback after it, and calls no further provider", async () => {
    // Status, headers and a role-only chunk, then nothing: the edge waits in the peek.
    const a = await scenario([{ type: "sse", events: [roleOnly], end: "hang" }]);
    const b = await scenario();
    const controller = new AbortController();
    const requestId = "abort-during-peek";
    const pending = call({
      config: chainConfig({ a: provider(a.baseUrl, { timeout_ms: 10_000 }), b: provider(b.baseUrl) }),
      body: chat({ stream: true }),
      headers: { "x-request-id": requestId },
      signal: controller.signal,
    });
    await a.waitForCalls(1);
    // The call is recorded as it arrives; give the edge a moment to read the status and the
    // role-only chunk, so the abort lands in the peek and not in the wait for headers.
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort();
    const res = await pending;
    await res.body?.cancel().catch(() => undefined);

    const lines = logs.events().filter((e) => e.request_id === requestId).map((e) => e.event);
    const terminal = lines.filter((e) => ["infer_completed", "infer_failed", "infer_cancelled"].includes(e));
    expect(terminal).toEqual(["infer_cancelled"]);
    expect(lines.slice(lines.indexOf("infer_cancelled"))).not.toContain("infer_fallback");
    expect(await b.calls()).toHaveLength(0);
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
  });
});
