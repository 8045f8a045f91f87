// Stream timeouts: first_token_timeout_ms bounds the wait for the answer to begin (then the walk
// fails over), stream_idle_timeout_ms the silence once it has begun, and timeout_ms (the JSON
// limit) no longer cuts a stream. Reasoning deltas begin the answer: they pass through at once.
import { describe, expect, it } from "vitest";
import { call, chainConfig, chat, provider, scenario, sseData } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const base = { id: "chatcmpl-think", object: "chat.completion.chunk", created: 1, model: "m" };
const roleOnly = { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] };
const contentOf = (data: string[]) => data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d).choices?.[0]?.delta?.content ?? "").join("");

describe("first_token_timeout_ms", () => {
  it("fails over before commit when the first token is slower than first_token_timeout_ms", async () => {
    const slow = await scenario([{ type: "sse", first_delay_ms: 3_000, end: "close" }]);
    const b = await scenario();
    const config = chainConfig({ slow: provider(slow.baseUrl, { first_token_timeout_ms: 200, retries: 0 }), b: provider(b.baseUrl) });
    const res = await call({ config, body: chat({ stream: true }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(contentOf(await sseData(res))).toBe(`Hello from ${b.id}`);
    expect(logs.events().find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "slow", category: "Timeout" });
  });

  it("fails over when only a role chunk comes within first_token_timeout_ms", async () => {
    const a = await scenario([{ type: "sse", events: [roleOnly], end: "hang" }]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { first_token_timeout_ms: 200 }), b: provider(b.baseUrl) });
    const res = await call({ config, body: chat({ stream: true }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    await res.text();
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
  });

  it("does not cut a stream at timeout_ms: that is the JSON limit", async () => {
    // Eight words 80 ms apart take longer than timeout_ms; every gap is far inside the idle limit.
    const a = await scenario([{ type: "sse", content: "one two three four five six seven eight", gap_ms: 80 }]);
    const config = chainConfig({ a: provider(a.baseUrl, { timeout_ms: 200, first_token_timeout_ms: 5_000, stream_idle_timeout_ms: 5_000 }) });
    const res = await call({ config, body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(contentOf(data)).toBe("one two three four five six seven eight");
    expect(data.at(-1)).toBe("[DONE]");
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ provider: "a", stream: true });
  });
});

describe("stream_idle_timeout_ms", () => {
  it("ends a stream that goes silent after it began with an honest timeout error when no provider can continue it", async () => {
    const a = await scenario([{ type: "sse", content: "a few words then silence", cut_after: 3, end: "hang" }]);
    const b = await scenario(); // openai_compatible without prefill: never asked to continue
    const config = chainConfig({ a: provider(a.baseUrl, { stream_idle_timeout_ms: 200 }), b: provider(b.baseUrl) });
    const res = await call({ config, body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(contentOf(data.slice(0, -1))).toBe("a few ");
    const last = JSON.parse(data.at(-1)!) as { error: { type: string; code: string; message: string } };
    expect(last.error).toMatchObject({ type: "timeout_error", code: "stream_interrupted" });
    expect(last.error.message).toContain("no data from upstream for 200 ms");
    expect(await b.calls()).toHaveLength(0);
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ provider: "a", category: "Timeout", stream: true });
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
  });
});

describe("reasoning deltas begin the answer", () => {
  const reasoningDeltas: Array<[string, Record<string, unknown>]> = [
    ["reasoning", { reasoning: "Let me think." }],
    ["reasoning_content", { reasoning_content: "Let me think." }],
    ["reasoning_details", { reasoning_details: [{ type: "reasoning.text", text: "Let me think." }] }],
  ];
  it.each(reasoningDeltas)("commits on delta.%s and hands it to the client at once, with no failover under a short first-token timeout", async (_field, delta) => {
    const thinking = { ...base, choices: [{ index: 0, delta, finish_reason: null }] };
    // The thinking model keeps thinking: nothing after its first reasoning delta within the test.
    const a = await scenario([{ type: "sse", events: [roleOnly, thinking], end: "hang" }]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { first_token_timeout_ms: 300, stream_idle_timeout_ms: 15_000 }), b: provider(b.baseUrl) });
    const res = await call({ config, body: chat({ stream: true }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("a");
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("Let me think.")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    // Passed through unchanged, after the held role chunk.
    expect(text).toBe(`data: ${JSON.stringify(roleOnly)}\n\ndata: ${JSON.stringify(thinking)}\n\n`);
    expect(await b.calls()).toHaveLength(0);
    expect((await a.calls())[0]!.abandoned).toBe(false);
    await reader.cancel();
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
    expect(logs.events().find((e) => e.event === "infer_cancelled")).toMatchObject({ provider: "a" });
  });
});
