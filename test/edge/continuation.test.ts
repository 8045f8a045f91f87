// Continuing a broken answer on a later provider with `prefill`: the client's stream carries on
// with one chunk id and one role, so its text is what one healthy provider would have sent.
// Never towards a provider without prefill, never for a tool call, and when nothing can finish
// the answer the error names the original failure.
import { describe, expect, it } from "vitest";
import { chunks, type Step } from "../support/fake-provider-protocol.ts";
import { call, chainConfig, chat, provider, scenario, sseData } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const ANSWER = Array.from({ length: 60 }, (_, i) => `word${i + 1}`).join(" ");
/** The first 40 content chunks of ANSWER (after the role chunk), as the broken provider sends them. */
const FIRST_40 = ANSWER.split(/(?<= )/).slice(0, 40).join("");
const prefillProvider = (baseUrl: string, extra: Record<string, unknown> = {}) => provider(baseUrl, { capabilities: ["prefill"], ...extra });
const continuing: Step = { type: "sse", content: ANSWER, prefill: true, chunk_id: "chatcmpl-other" };

type Chunk = { id: string; choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }> };
const parsed = (data: string[]) => data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as Chunk);
const textOf = (data: string[]) => parsed(data).map((c) => c.choices[0]?.delta.content ?? "").join("");

async function healthyText(): Promise<string> {
  const healthy = await scenario([{ type: "sse", content: ANSWER }]);
  return textOf(await sseData(await call({ config: chainConfig({ healthy: provider(healthy.baseUrl) }), body: chat({ stream: true }) })));
}

describe("continuation on a prefill provider", () => {
  it("continues a stream cut after 40 content chunks so the client's text equals one healthy provider's, with one chunk id", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }]);
    const c = await scenario([continuing]);
    const config = chainConfig({ a: provider(a.baseUrl), c: prefillProvider(c.baseUrl) });
    const res = await call({ config, body: chat({ stream: true }), headers: { "x-request-id": "continue-40" } });
    expect(res.headers.get("x-inferrouter-provider")).toBe("a");
    const data = await sseData(res);

    expect(textOf(data)).toBe(await healthyText());
    expect(data.at(-1)).toBe("[DONE]");
    const all = parsed(data);
    expect(new Set(all.map((chunk) => chunk.id))).toEqual(new Set(["chatcmpl-fake"]));
    expect(all.filter((chunk) => chunk.choices[0]?.delta.role !== undefined)).toHaveLength(1);
    expect(all.at(-1)!.choices[0]!.finish_reason).toBe("stop");

    // The continuation got the same request with the text so far as the assistant's own message.
    const [sent] = await c.calls();
    const messages = sent!.body.messages as Array<{ role: string; content: string }>;
    expect(messages.at(-1)).toEqual({ role: "assistant", content: FIRST_40 });
    expect(messages.slice(0, -1)).toEqual(chat().messages);

    const mine = logs.events().filter((e) => e.request_id === "continue-40");
    expect(mine.find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "a", category: "NetworkError", continued: true, carried_chars: FIRST_40.length });
    const completed = mine.find((e) => e.event === "infer_completed");
    expect(completed).toMatchObject({ provider: "c", attempts: 2, continued: true, finish_reason: "stop", stream: true });
    // c's usage (the fake counts its words); a was cut before its usage chunk.
    expect(completed!.completion_tokens).toBe(ANSWER.split(" ").length - 40);
  });

  it("continues a stream that goes idle past stream_idle_timeout_ms, and releases the idle upstream", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 41, end: "hang" }]);
    const c = await scenario([continuing]);
    const config = chainConfig({ a: provider(a.baseUrl, { stream_idle_timeout_ms: 200 }), c: prefillProvider(c.baseUrl) });
    const data = await sseData(await call({ config, body: chat({ stream: true }) }));
    expect(textOf(data)).toBe(ANSWER);
    expect(data.at(-1)).toBe("[DONE]");
    expect(logs.events().find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "a", category: "Timeout", continued: true });
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
  });

  it("continues after an upstream error event mid-stream, which the client never sees", async () => {
    const events = [...chunks("upstream-model", ANSWER, false).slice(0, 41), { error: { message: "Upstream overloaded", code: 503 } }];
    const a = await scenario([{ type: "sse", events, end: "close" }]);
    const c = await scenario([continuing]);
    const config = chainConfig({ a: provider(a.baseUrl), c: prefillProvider(c.baseUrl) });
    const text = await (await call({ config, body: chat({ stream: true }) })).text();
    expect(text).not.toContain("overloaded");
    const data = await sseData(new Response(text));
    expect(textOf(data)).toBe(ANSWER);
    expect(logs.events().find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "a", category: "ServerError", continued: true });
  });

  it("passes over providers without prefill: they are never asked to continue", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }]);
    const plain = await scenario();
    const c = await scenario([continuing]);
    const config = chainConfig({ a: provider(a.baseUrl), plain: provider(plain.baseUrl), c: prefillProvider(c.baseUrl) });
    const data = await sseData(await call({ config, body: chat({ stream: true }) }));
    expect(textOf(data)).toBe(ANSWER);
    expect(await plain.calls()).toHaveLength(0);
    expect(await c.calls()).toHaveLength(1);
  });

  it("continues a continuation that breaks too, on the next prefill provider", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 21, end: "reset" }]);
    const c1 = await scenario([{ ...continuing, cut_after: 11, end: "reset" }]);
    const c2 = await scenario([{ ...continuing, chunk_id: "chatcmpl-third" }]);
    const config = chainConfig({ a: provider(a.baseUrl), c1: prefillProvider(c1.baseUrl), c2: prefillProvider(c2.baseUrl) });
    const data = await sseData(await call({ config, body: chat({ stream: true }), headers: { "x-request-id": "continue-twice" } }));
    expect(textOf(data)).toBe(ANSWER);
    expect(new Set(parsed(data).map((chunk) => chunk.id))).toEqual(new Set(["chatcmpl-fake"]));
    const [sent] = await c2.calls();
    // c1's role chunk has no content; its ten words follow a's twenty.
    expect((sent!.body.messages as Array<{ content: string }>).at(-1)!.content).toBe(ANSWER.split(/(?<= )/).slice(0, 30).join(""));
    const mine = logs.events().filter((e) => e.request_id === "continue-twice");
    expect(mine.filter((e) => e.event === "infer_fallback").map((e) => [e.provider, e.continued])).toEqual([["a", true], ["c1", true]]);
    expect(mine.find((e) => e.event === "infer_completed")).toMatchObject({ provider: "c2", attempts: 3, continued: true });
  });
});

describe("a client that leaves while the answer is being continued", () => {
  it("is logged cancelled once, with no failover after it, and the continuation's upstream is released", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }]);
    // Slow to its first token: the client leaves while the edge waits for it.
    const c = await scenario([{ ...continuing, first_delay_ms: 3_000 }]);
    const config = chainConfig({ a: provider(a.baseUrl), c: prefillProvider(c.baseUrl) });
    const res = await call({ config, body: chat({ stream: true }), headers: { "x-request-id": "leaves-midway" } });
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("word40 ")) text += new TextDecoder().decode((await reader.read()).value);
    await c.waitForCalls(1);
    await reader.cancel();
    await expect.poll(async () => (await c.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
    const lines = logs.events().filter((e) => e.request_id === "leaves-midway").map((e) => e.event);
    expect(lines.filter((e) => e.startsWith("infer_c") || e === "infer_failed")).toEqual(["infer_cancelled"]);
    expect(lines.slice(lines.indexOf("infer_cancelled"))).toEqual(["infer_cancelled"]);
  });
});

describe("when the answer cannot be continued", () => {
  it("never continues an n > 1 stream: one prefill cannot carry several answers", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }]);
    const c = await scenario([continuing]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl), c: prefillProvider(c.baseUrl) }), body: chat({ stream: true, n: 2 }) });
    const data = await sseData(res);
    expect(JSON.parse(data.at(-1)!).error.code).toBe("stream_interrupted");
    expect(await c.calls()).toHaveLength(0);
  });

  it("ends with the honest error when no later provider has prefill", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }]);
    const plain = await scenario();
    const data = await sseData(await call({ config: chainConfig({ a: provider(a.baseUrl), plain: provider(plain.baseUrl) }), body: chat({ stream: true }) }));
    expect(textOf(data.slice(0, -1))).toBe(FIRST_40);
    expect(JSON.parse(data.at(-1)!).error.code).toBe("stream_interrupted");
    expect(await plain.calls()).toHaveLength(0);
    expect(logs.events().some((e) => e.event === "infer_fallback")).toBe(false);
  });

  it("never makes a prefill provider's rejection the final error: the message names the original failure", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }]);
    const rejecting = await scenario([{ type: "json", status: 400, body: { error: { message: "assistant prefill is not supported", type: "invalid_request_error" } } }]);
    const config = chainConfig({ a: provider(a.baseUrl), rejecting: prefillProvider(rejecting.baseUrl) });
    const data = await sseData(await call({ config, body: chat({ stream: true }), headers: { "x-request-id": "prefill-rejected" } }));
    const last = JSON.parse(data.at(-1)!) as { error: { code: string; message: string; type: string } };
    expect(last.error.code).toBe("stream_interrupted");
    expect(last.error.message).toContain("upstream connection failed");
    expect(last.error.message).not.toContain("prefill is not supported");
    expect(await rejecting.calls()).toHaveLength(1);
    const mine = logs.events().filter((e) => e.request_id === "prefill-rejected");
    expect(mine.find((e) => e.event === "infer_fallback" && e.provider === "rejecting")).toMatchObject({ category: "BadRequest", continued: true });
    expect(mine.find((e) => e.event === "infer_failed")).toMatchObject({ provider: "a", category: "NetworkError", attempts: 2 });
  });

  it("names the original failure first when the continuation breaks too and nothing is left", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }]);
    const c = await scenario([{ ...continuing, cut_after: 5, end: "hang" }]);
    const config = chainConfig({ a: provider(a.baseUrl), c: prefillProvider(c.baseUrl, { stream_idle_timeout_ms: 200 }) });
    const data = await sseData(await call({ config, body: chat({ stream: true }) }));
    const last = JSON.parse(data.at(-1)!) as { error: { message: string } };
    expect(last.error.message).toMatch(/^Stream interrupted: upstream connection failed.*; continuing the answer failed too: no data from upstream for 200 ms$/);
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ provider: "c", category: "Timeout", continued: true, attempts: 2 });
  });

  it("never continues a stream that was emitting a tool call", async () => {
    const call0 = { ...chunks("m", "", false)[0] as object };
    const toolDelta = (delta: Record<string, unknown>) => ({ id: "chatcmpl-tool", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...delta }] }, finish_reason: null }] });
    const events = [call0, toolDelta({ id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }), toolDelta({ function: { arguments: '{"city":' } })];
    const a = await scenario([{ type: "sse", events, end: "reset" }]);
    const c = await scenario([continuing]);
    const config = chainConfig({ a: provider(a.baseUrl), c: prefillProvider(c.baseUrl) });
    const data = await sseData(await call({ config, body: chat({ stream: true }) }));
    expect(JSON.parse(data.at(-1)!).error.code).toBe("stream_interrupted");
    expect(await c.calls()).toHaveLength(0);
  });
});
