// POST /v1/responses through the real Worker: translated onto the chain walk and back.
import { describe, expect, it } from "vitest";
import { call, chainConfig, namedEvents, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const responsesCall = (config: unknown, body: Record<string, unknown>) =>
  call({ config, path: "/v1/responses", body: { model: "default", input: "Say hello", ...body } });

const events = namedEvents;

describe("POST /v1/responses", () => {
  it("answers JSON from the chain with a response object, asking upstream for a chat completion", async () => {
    const a = await scenario();
    const res = await responsesCall(chainConfig({ a: provider(a.baseUrl) }), { instructions: "Be brief", max_output_tokens: 20 });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("a");
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ object: "response", status: "completed", model: "default", output_text: `Hello from ${a.id}`, usage: { input_tokens: 7, output_tokens: 3, total_tokens: 10 } });
    expect(body.output[0]).toMatchObject({ type: "message", role: "assistant", content: [{ type: "output_text", text: `Hello from ${a.id}` }] });
    const [upstream] = await a.calls();
    expect(upstream!.body).toMatchObject({ model: "upstream-model", max_tokens: 20, messages: [{ role: "system", content: "Be brief" }, { role: "user", content: "Say hello" }] });
    const started = logs.events().find((e) => e.event === "infer_started");
    expect(started).toMatchObject({ endpoint: "responses", route: "default", stream: false });
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ provider: "a", total_tokens: 10 });
  });

  it("streams the documented events and fails over from a 429 before the first byte", async () => {
    const limited = await scenario([{ type: "json", status: 429, body: { error: { message: "slow down" } } }]);
    const healthy = await scenario();
    const res = await responsesCall(chainConfig({ limited: provider(limited.baseUrl), healthy: provider(healthy.baseUrl) }), { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(res.headers.get("x-inferrouter-provider")).toBe("healthy");
    const all = await events(res);
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    expect(all[0]!.type).toBe("response.created");
    expect(all.at(-1)).toMatchObject({ type: "response.completed", response: { status: "completed", output_text: `Hello from ${healthy.id}`, usage: { input_tokens: 7 } } });
    const text = all.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
    expect(text).toBe(`Hello from ${healthy.id}`);
    const [upstream] = await healthy.calls();
    expect(upstream!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(logs.events().find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "limited", category: "RateLimit" });
  });

  it("ends a stream cut after the first content with response.failed and an error event", async () => {
    const base = { id: "c", object: "chat.completion.chunk", created: 1, model: "m" };
    const cut = await scenario([{ type: "sse", events: [{ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "Hel" }, finish_reason: null }] }], end: "reset" }]);
    const res = await responsesCall(chainConfig({ cut: provider(cut.baseUrl) }), { stream: true });
    expect(res.status).toBe(200);
    const all = await events(res);
    expect(all.map((e) => e.type).slice(-2)).toEqual(["response.failed", "error"]);
    expect(all.some((e) => e.type === "response.completed")).toBe(false);
    expect(all.at(-2)!.response).toMatchObject({ status: "failed", error: { code: "server_error" }, output_text: "Hel" });
    expect(all.at(-2)!.response.output).toMatchObject([{ type: "message", status: "incomplete", content: [{ type: "output_text", text: "Hel" }] }]);
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ provider: "cut", status: 200 });
  });

  it("completes a stream that ends with [DONE] after content but no finish_reason, as the log does", async () => {
    const base = { id: "c", object: "chat.completion.chunk", created: 1, model: "m" };
    const a = await scenario([{ type: "sse", events: [{ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "Hi" }, finish_reason: null }] }], end: "done" }]);
    const res = await responsesCall(chainConfig({ a: provider(a.baseUrl) }), { stream: true });
    const all = await events(res);
    expect(all.at(-1)).toMatchObject({ type: "response.completed", response: { status: "completed", output_text: "Hi" } });
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ provider: "a", stream: true });
  });

  it("stops the upstream call and logs infer_cancelled when the client stops reading", async () => {
    const a = await scenario([{ type: "sse", content: "a long answer", end: "hang" }]);
    const res = await responsesCall(chainConfig({ a: provider(a.baseUrl) }), { stream: true });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(logs.events().find((e) => e.event === "infer_cancelled")).toMatchObject({ provider: "a", stream: true });
    await expect.poll(async () => (await a.calls())[0]!.abandoned).toBe(true);
  });

  it("answers a 400 naming the param for stateful features and built-in tools", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl) });
    for (const [extra, param] of [
      [{ previous_response_id: "resp_123" }, "previous_response_id"],
      [{ background: true }, "background"],
      [{ tools: [{ type: "file_search", vector_store_ids: ["vs_1"] }] }, "tools[0].type"],
      [{ input: [{ role: "user", content: [{ type: "input_text", text: "read" }, { type: "input_file", file_id: "file_1" }] }] }, "input[0].content[1]"],
      [{ input: [{ role: "tool", content: "42" }] }, "input[0].role"],
    ] as const) {
      const res = await responsesCall(config, extra);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { param: string; message: string; type: string } };
      expect(body.error).toMatchObject({ param, type: "invalid_request_error" });
    }
    expect(await a.calls()).toHaveLength(0);
    expect(logs.events().filter((e) => e.event === "infer_failed").every((e) => e.status === 400)).toBe(true);
  });

  it("fails over from a 200 chat answer whose tool calls lack a function or whose choices lack a message, on both endpoints", async () => {
    const base = { id: "c", object: "chat.completion", created: 1, model: "m", usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
    const noFunction = await scenario([{ type: "json", body: { ...base, choices: [{ index: 0, message: { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function" }] }, finish_reason: "tool_calls" }] } }]);
    const noMessage = await scenario([{ type: "json", body: { ...base, choices: [{ index: 0, finish_reason: "stop" }] } }]);
    const healthy = await scenario();
    // A provider id per request: each one's failures open its circuit.
    const providers = { no_function: provider(noFunction.baseUrl), alone: provider(noFunction.baseUrl), no_message: provider(noMessage.baseUrl), healthy: provider(healthy.baseUrl) };
    const routes = { tools: ["no_function", "healthy"], plain: ["no_message", "healthy"], alone: ["alone"] };
    const viaResponses = await responsesCall({ routes, providers }, { model: "tools" });
    expect(viaResponses.status).toBe(200);
    expect(((await viaResponses.json()) as { output_text: string }).output_text).toBe(`Hello from ${healthy.id}`);
    const viaChat = await call({ config: { routes, providers }, body: { model: "plain", messages: [{ role: "user", content: "hi" }] } });
    expect(viaChat.status).toBe(200);
    expect(viaChat.headers.get("x-inferrouter-provider")).toBe("healthy");
    // Alone, the malformed answer fails the request honestly: a 503, never a 500 or a 200.
    const alone = await responsesCall({ routes, providers }, { model: "alone" });
    expect(alone.status).toBe(503);
    expect(((await alone.json()) as { error: { message: string } }).error.message).toContain("alone: ServerError");
    const fallbacks = logs.events().filter((e) => e.event === "infer_fallback");
    expect(fallbacks.map((e) => [e.provider, e.category])).toEqual([["no_function", "ServerError"], ["no_message", "ServerError"], ["alone", "ServerError"]]);
    expect(fallbacks[0]!.message).toContain("choices[0].message.tool_calls[0].function");
    expect(fallbacks[1]!.message).toContain("choices[0].message");
    expect(logs.events().filter((e) => e.event === "infer_completed").map((e) => e.provider)).toEqual(["healthy", "healthy"]);
  });

  it("refuses an embeddings route, naming the model", async () => {
    const a = await scenario();
    const config = { routes: { vectors: ["e"] }, providers: { e: provider(a.baseUrl, { endpoint: "embeddings", embedding_space: "m@4" }) } };
    const res = await call({ config, path: "/v1/responses", body: { model: "vectors", input: "hi" } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string; message: string } }).error).toMatchObject({ param: "model", message: expect.stringContaining('"vectors"') });
  });
});
