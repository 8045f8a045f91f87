// The native relay (stream_relay = "native"): once the answer has begun the runtime feeds the
// client and a tap reads the same bytes in batches. Every guarantee it keeps is tested here against
// real scripted providers: the whole answer byte for byte, failover before the first token, a cut,
// a stall (the idle limit), an error event, an early [DONE] on an upstream that stays open, the
// client leaving, usage for the logs and token budgets (estimated when the client did not ask for
// it), continuation on a prefill provider, and one terminal line (checked after each test).
import { describe, expect, it } from "vitest";
import { chunks, type Step } from "../support/fake-provider-protocol.ts";
import { call, chainConfig, chat, provider, scenario, sseData } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const base = { id: "chatcmpl-native", object: "chat.completion.chunk", created: 1, model: "m" };
const content = (text: string) => ({ ...base, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] });
const finish = { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] };
const contentOf = (data: string[]) => data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d).choices?.[0]?.delta?.content ?? "").join("");
const ANSWER = Array.from({ length: 60 }, (_, i) => `word${i + 1}`).join(" ");

/** A config whose default route uses the native relay (as a route table), with the given providers. */
function nativeConfig(providers: Record<string, Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  return { ...chainConfig(providers), routes: { default: { providers: Object.keys(providers), stream_relay: "native", ...extra } } };
}
const terminal = () => logs.events().filter((e) => e.event.startsWith("infer_") && ["infer_completed", "infer_failed", "infer_cancelled"].includes(e.event));

describe("the native relay", () => {
  it("hands the client upstream's bytes unchanged and logs upstream's usage when the client asked for it", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER }]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true, stream_options: { include_usage: true } }) });
    const expected = chunks("upstream-model", ANSWER, true).map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
    expect(await res.text()).toBe(expected);
    const usage = chunks("upstream-model", ANSWER, true).at(-1) as { usage: { total_tokens: number } };
    expect(terminal()).toEqual([expect.objectContaining({ event: "infer_completed", provider: "a", finish_reason: "stop", total_tokens: usage.usage.total_tokens })]);
    expect(terminal()[0]!.usage_estimated).toBeUndefined();
  });

  it("does not ask upstream for usage the client did not ask for, and logs an estimate marked as such", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER }]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(contentOf(data)).toBe(ANSWER);
    expect(data.some((d) => d !== "[DONE]" && JSON.parse(d).usage)).toBe(false);
    expect((await a.calls())[0]!.body.stream_options).toBeUndefined();
    const end = terminal()[0]!;
    expect(end).toMatchObject({ event: "infer_completed", usage_estimated: true });
    // One token a frame: the 60 words and the finish chunk, give or take the first.
    expect(end.completion_tokens).toBeGreaterThanOrEqual(59);
    expect(end.completion_tokens).toBeLessThanOrEqual(61);
  });

  it("relays an answer that arrives in one read, [DONE] and all", async () => {
    const long = Array.from({ length: 1000 }, (_, i) => `w${i} `).join("");
    const body = chunks("upstream-model", long, true).map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
    const a = await scenario([{ type: "raw", status: 200, body, headers: { "content-type": "text/event-stream" } }]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true, stream_options: { include_usage: true } }) });
    expect(await res.text()).toBe(body);
    expect(terminal()[0]).toMatchObject({ event: "infer_completed", finish_reason: "stop" });
  });

  it("fails over before the first token, as the frames relay does", async () => {
    const a = await scenario([{ type: "sse", events: [{ error: { message: "overloaded", code: 503 } }], end: "close" }]);
    const b = await scenario([{ type: "sse", content: "from b" }]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }), body: chat({ stream: true }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(contentOf(await sseData(res))).toBe("from b");
  });

  it("completes a stream that closes after its finish reason without [DONE]: the edge adds it", async () => {
    const a = await scenario([{ type: "sse", events: [content("Hello"), content(" there"), finish], end: "close" }]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true }) });
    expect(await res.text()).toBe([content("Hello"), content(" there"), finish].map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n");
    expect(terminal()[0]).toMatchObject({ event: "infer_completed", finish_reason: "stop" });
  });

  it("ends a stream cut before its finish reason with the error event, never [DONE]", async () => {
    const a = await scenario([{ type: "sse", content: "partial answer that breaks", cut_after: 3, end: "reset" }]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(data).not.toContain("[DONE]");
    expect(JSON.parse(data.at(-1)!).error.code).toBe("stream_interrupted");
    expect(terminal()[0]).toMatchObject({ event: "infer_failed", provider: "a", category: "NetworkError" });
  });

  it("ends a stream that stalls mid-answer with a timeout error after the idle limit, and releases the upstream", async () => {
    const a = await scenario([{ type: "sse", content: "half an answer", cut_after: 3, end: "hang" }]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl, { stream_idle_timeout_ms: 300 }) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(JSON.parse(data.at(-1)!).error.type).toBe("timeout_error");
    expect(terminal()[0]).toMatchObject({ event: "infer_failed", category: "Timeout" });
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
  });

  it("does not cut a slow stream that keeps sending within the idle limit", async () => {
    const a = await scenario([{ type: "sse", content: "one two three four five six", gap_ms: 120 }]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl, { stream_idle_timeout_ms: 300 }) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(contentOf(data)).toBe("one two three four five six");
    expect(data.at(-1)).toBe("[DONE]");
  });

  it("ends the stream at an upstream error event and logs it failed, with its category", async () => {
    const events = [content("Hel"), { error: { message: "rate limited", code: 429 } }];
    const a = await scenario([{ type: "sse", events, end: "hang" }]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl, { stream_idle_timeout_ms: 400 }) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(data).not.toContain("[DONE]");
    expect(JSON.parse(data.at(-1)!).error.message).toBe("rate limited");
    expect(terminal()[0]).toMatchObject({ event: "infer_failed", provider: "a", category: "RateLimit" });
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
  });

  it("ends the client's stream at an early [DONE] and releases an upstream that stays open", async () => {
    const events = [...chunks("upstream-model", "Done but open", false), "[DONE]"];
    const a = await scenario([{ type: "sse", events, end: "hang" }]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl, { stream_idle_timeout_ms: 400 }) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(data.at(-1)).toBe("[DONE]");
    expect(contentOf(data)).toBe("Done but open");
    expect(terminal()[0]).toMatchObject({ event: "infer_completed", finish_reason: "stop" });
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
  });

  it("logs a client that leaves mid-stream as cancelled once, and releases the upstream", async () => {
    // Upstream goes on sending: the native pipe notices the client left at its next write.
    const long = Array.from({ length: 200 }, (_, i) => `w${i} `).join("");
    const a = await scenario([{ type: "sse", events: [content("first words"), ...chunks("upstream-model", long, false).slice(1)], gap_ms: 20, end: "hang" }]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl, { stream_idle_timeout_ms: 30_000 }) }), body: chat({ stream: true }) });
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain("first words");
    await reader.cancel();
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
    await expect.poll(() => terminal().length, { timeout: 5_000 }).toBe(1);
    expect(terminal()[0]).toMatchObject({ event: "infer_cancelled" });
  });

  it("continues a cut stream on a prefill provider: one answer, one chunk id, one [DONE]", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }]);
    const c = await scenario([{ type: "sse", content: ANSWER, prefill: true, chunk_id: "chatcmpl-other" } satisfies Step]);
    const res = await call({ config: nativeConfig({ a: provider(a.baseUrl), c: provider(c.baseUrl, { capabilities: ["prefill"] }) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(contentOf(data)).toBe(ANSWER);
    expect(data.filter((d) => d === "[DONE]")).toHaveLength(1);
    expect(new Set(data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d).id)).size).toBe(1);
    expect(terminal()[0]).toMatchObject({ event: "infer_completed", provider: "c", continued: true });
  });
});
