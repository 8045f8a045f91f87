// How a committed stream ends: a finish_reason then a clean close is complete (the edge adds
// [DONE]); [DONE] ends the client's stream and releases the upstream at once; an event whose data
// is not JSON is dropped and counted; a frame over the size limit aborts the upstream.
import { describe, expect, it } from "vitest";
import { chunks } from "../support/fake-provider-protocol.ts";
import { call, chainConfig, chat, provider, scenario, sseData } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const base = { id: "chatcmpl-ends", object: "chat.completion.chunk", created: 1, model: "m" };
const content = (text: string) => ({ ...base, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] });
const finish = { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] };
const contentOf = (data: string[]) => data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d).choices?.[0]?.delta?.content ?? "").join("");

describe("the end of a stream", () => {
  it("is complete after a finish_reason and a clean close without [DONE]; the edge adds [DONE]", async () => {
    const a = await scenario([{ type: "sse", events: [content("Hello"), content(" there"), finish], end: "close" }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true }) });
    const text = await res.text();
    expect(text).toBe([content("Hello"), content(" there"), finish].map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n");
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ provider: "a", finish_reason: "stop", stream: true, dropped_events: 0 });
  });

  it("ends the client's stream at [DONE] and releases an upstream that stays open", async () => {
    const events = [...chunks("upstream-model", "Done but open", false), "[DONE]"];
    const a = await scenario([{ type: "sse", events, end: "hang" }]);
    // A long idle limit: only [DONE] can end this stream within the test.
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl, { stream_idle_timeout_ms: 30_000 }) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(data.at(-1)).toBe("[DONE]");
    expect(contentOf(data)).toBe("Done but open");
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ provider: "a", finish_reason: "stop" });
  });

  it("drops data events that are not JSON, counts them, and goes on", async () => {
    const truncated = '{"id":"chatcmpl-ends","choices":[{"index":0,"delta":{"content":"lost';
    const a = await scenario([{ type: "sse", events: [content("Hel"), "not json at all", content("lo"), truncated, content("!"), finish] }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true }) });
    const text = await res.text();
    expect(text).not.toContain("not json");
    expect(text).not.toContain("lost");
    const data = await sseData(new Response(text));
    expect(contentOf(data)).toBe("Hello!");
    expect(data.at(-1)).toBe("[DONE]");
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ provider: "a", dropped_events: 2, finish_reason: "stop" });
  });

  it("aborts the upstream and ends with an error event when a frame mid-stream grows past the size limit", async () => {
    const huge = "x".repeat(1024 * 1024 + 4096);
    const a = await scenario([{ type: "sse", events: [content("Hel"), huge], end: "hang" }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl, { stream_idle_timeout_ms: 30_000 }) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    const last = JSON.parse(data.at(-1)!) as { error: { code: string; message: string } };
    expect(last.error.code).toBe("stream_interrupted");
    expect(last.error.message).toContain("SSE frame over");
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ provider: "a", category: "ServerError" });
  });
});
