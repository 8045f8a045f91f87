// POST /v1/messages through the real Worker: the Anthropic Messages API translated onto the chain
// walk (fake OpenAI-compatible providers) and back, as JSON and as the Messages event stream.
import { describe, expect, it } from "vitest";
import { call, chainConfig, namedEvents, provider, scenario, settled } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const ANTHROPIC = { authorization: "", "x-api-key": "sk-test-client-1", "anthropic-version": "2023-06-01" };
const messagesCall = (config: unknown, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  call({ config, path: "/v1/messages", headers: { ...ANTHROPIC, ...headers }, body: { model: "default", max_tokens: 64, messages: [{ role: "user", content: "Say hello" }], ...body } });

const events = namedEvents;

const base = { id: "c", object: "chat.completion.chunk", created: 1, model: "m" };
const delta = (d: Record<string, unknown>, finish: string | null = null) => ({ ...base, choices: [{ index: 0, delta: d, finish_reason: finish }] });
const usageChunk = { ...base, choices: [], usage: { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 } };

describe("POST /v1/messages", () => {
  it("answers a message from the chain, translating system, text and images onto a chat request", async () => {
    const a = await scenario();
    const res = await messagesCall(chainConfig({ a: provider(a.baseUrl) }), {
      system: [{ type: "text", text: "Be brief", cache_control: { type: "ephemeral" } }],
      messages: [
        { role: "user", content: [{ type: "text", text: "Look:" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0K" } }, { type: "image", source: { type: "url", url: "https://example.com/a.png" } }] },
        { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature: "sig" }, { type: "text", text: "A cat." }] },
        { role: "user", content: "Say hello" },
      ],
      temperature: 0.3,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ["END"],
      metadata: { user_id: "u-1" },
      some_future_field: { x: 1 },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("request-id")).toBe(res.headers.get("x-request-id"));
    const body = (await res.json()) as Record<string, any>;
    expect(body).toEqual({
      id: expect.stringMatching(/^msg_/),
      type: "message",
      role: "assistant",
      model: "default",
      content: [{ type: "text", text: `Hello from ${a.id}` }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 7, output_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
    const [upstream] = await a.calls();
    expect(upstream!.body).toEqual({
      model: "upstream-model",
      max_tokens: 64,
      temperature: 0.3,
      top_p: 0.9,
      top_k: 40,
      stop: ["END"],
      user: "u-1",
      messages: [
        { role: "system", content: "Be brief" },
        { role: "user", content: [{ type: "text", text: "Look:" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0K" } }, { type: "image_url", image_url: { url: "https://example.com/a.png" } }] },
        { role: "assistant", content: "A cat." },
        { role: "user", content: "Say hello" },
      ],
    });
    expect(upstream!.headers["x-api-key"]).toBeUndefined();
    const started = logs.events().find((e) => e.event === "infer_started");
    expect(started).toMatchObject({ endpoint: "messages", api: "anthropic", route: "default", stream: false });
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ api: "anthropic", provider: "a", total_tokens: 10 });
  });

  it("maps finish reasons onto stop reasons", async () => {
    const completion = (finish: string, extra: Record<string, unknown> = {}) => ({
      id: "x", object: "chat.completion", created: 1, model: "m",
      choices: [{ index: 0, message: { role: "assistant", content: "Hi" }, finish_reason: finish, ...extra }],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    });
    for (const [step, stop, sequence] of [
      [completion("length"), "max_tokens", null],
      [completion("stop", { stop_reason: "END" }), "stop_sequence", "END"],
      [completion("stop"), "end_turn", null],
    ] as const) {
      const a = await scenario([{ type: "json", body: step }]);
      const res = await messagesCall(chainConfig({ a: provider(a.baseUrl) }), { stop_sequences: ["END"] });
      expect(await res.json()).toMatchObject({ stop_reason: stop, stop_sequence: sequence });
    }
  });

  it("turns tool calls into tool_use blocks and tool_use / tool_result history into chat tool messages", async () => {
    const a = await scenario([
      {
        type: "json",
        body: {
          id: "x", object: "chat.completion", created: 1, model: "m",
          choices: [{ index: 0, finish_reason: "tool_calls", message: { role: "assistant", content: "Checking.", tool_calls: [
            { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
            { id: "call_2", type: "function", function: { name: "get_time", arguments: "" } },
          ] } }],
          usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 },
        },
      },
      { type: "json" },
    ]);
    const config = chainConfig({ a: provider(a.baseUrl) });
    const tools = [{ name: "get_weather", description: "Weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }, { name: "get_time", input_schema: { type: "object" } }];
    const first = (await (await messagesCall(config, { tools, tool_choice: { type: "any", disable_parallel_tool_use: false } })).json()) as Record<string, any>;
    expect(first.stop_reason).toBe("tool_use");
    expect(first.content).toEqual([
      { type: "text", text: "Checking." },
      { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
      { type: "tool_use", id: "call_2", name: "get_time", input: {} },
    ]);
    const second = await messagesCall(config, {
      tools,
      tool_choice: { type: "tool", name: "get_weather" },
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [
          { type: "text", text: "Thanks" },
          { type: "tool_result", tool_use_id: "call_1", content: [{ type: "text", text: "18C" }, { type: "image", source: { type: "url", url: "https://example.com/map.png" } }] },
          { type: "tool_result", tool_use_id: "call_2", content: "no clock", is_error: true },
        ] },
      ],
    });
    expect(second.status).toBe(200);
    const calls = await a.calls();
    expect(calls[0]!.body).toMatchObject({ tool_choice: "required", tools: [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: tools[0]!.input_schema } }, { type: "function", function: { name: "get_time" } }] });
    expect(calls[1]!.body.tool_choice).toEqual({ type: "function", function: { name: "get_weather" } });
    expect(calls[1]!.body.messages).toEqual([
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: "Checking.", tool_calls: [
        { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
        { id: "call_2", type: "function", function: { name: "get_time", arguments: "{}" } },
      ] },
      { role: "tool", tool_call_id: "call_1", content: "18C" },
      { role: "tool", tool_call_id: "call_2", content: "Error: no clock" },
      { role: "user", content: [{ type: "text", text: "Thanks" }, { type: "image_url", image_url: { url: "https://example.com/map.png" } }] },
    ]);
  });

  it("streams the exact Messages event sequence after failing over from a 429 before the first byte", async () => {
    const limited = await scenario([{ type: "json", status: 429, body: { error: { message: "slow down" } } }]);
    const healthy = await scenario([{ type: "sse", events: [delta({ role: "assistant", content: "Hel" }), delta({ content: "lo" }), delta({}, "stop"), usageChunk] }]);
    const res = await messagesCall(chainConfig({ limited: provider(limited.baseUrl), healthy: provider(healthy.baseUrl) }), { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(res.headers.get("x-inferrouter-provider")).toBe("healthy");
    const all = await events(res);
    expect(all).toEqual([
      { type: "message_start", message: { id: expect.stringMatching(/^msg_/), type: "message", role: "assistant", model: "default", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: expect.any(Number), output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } } },
      { type: "ping" },
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hel" } },
      { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "lo" } },
      { type: "content_block_stop", index: 0 },
      { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { input_tokens: 11, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } },
      { type: "message_stop" },
    ]);
    const [upstream] = await healthy.calls();
    expect(upstream!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(logs.events().find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "limited", category: "RateLimit" });
  });

  it("streams thinking, text and parallel tool calls as separate blocks", async () => {
    const a = await scenario([{ type: "sse", events: [
      delta({ role: "assistant", reasoning_content: "Need tools." }),
      delta({ content: "Let me check." }),
      delta({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } }] }),
      delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      delta({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      delta({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "get_time", arguments: "{}" } }] }),
      delta({}, "tool_calls"),
      usageChunk,
    ] }]);
    const res = await messagesCall(chainConfig({ a: provider(a.baseUrl) }), { stream: true, thinking: { type: "enabled", budget_tokens: 2048 }, tools: [{ name: "get_weather", input_schema: { type: "object" } }, { name: "get_time", input_schema: { type: "object" } }] });
    const all = await events(res);
    expect(all.slice(2).map((e) => [e.type, e.index, e.content_block?.type ?? e.delta?.type ?? e.delta?.stop_reason])).toEqual([
      ["content_block_start", 0, "thinking"],
      ["content_block_delta", 0, "thinking_delta"],
      ["content_block_stop", 0, undefined],
      ["content_block_start", 1, "text"],
      ["content_block_delta", 1, "text_delta"],
      ["content_block_stop", 1, undefined],
      ["content_block_start", 2, "tool_use"],
      ["content_block_delta", 2, "input_json_delta"],
      ["content_block_delta", 2, "input_json_delta"],
      ["content_block_stop", 2, undefined],
      ["content_block_start", 3, "tool_use"],
      ["content_block_delta", 3, "input_json_delta"],
      ["content_block_stop", 3, undefined],
      ["message_delta", undefined, "tool_use"],
      ["message_stop", undefined, undefined],
    ]);
    expect(all[8]).toEqual({ type: "content_block_start", index: 2, content_block: { type: "tool_use", id: "call_a", name: "get_weather", input: {} } });
    expect(all.filter((e) => e.index === 2 && e.delta).map((e) => e.delta.partial_json).join("")).toBe('{"city":"Paris"}');
    const [upstream] = await a.calls();
    expect(upstream!.body.reasoning_effort).toBe("low");
  });

  it("ends a stream cut after the first content with an error event, never message_stop", async () => {
    const cut = await scenario([{ type: "sse", events: [delta({ role: "assistant", content: "Hel" })], end: "reset" }]);
    const res = await messagesCall(chainConfig({ cut: provider(cut.baseUrl) }), { stream: true });
    expect(res.status).toBe(200);
    const all = await events(res);
    expect(all.map((e) => e.type)).toEqual(["message_start", "ping", "content_block_start", "content_block_delta", "error"]);
    expect(all.at(-1)!.error).toMatchObject({ type: "api_error", message: expect.any(String) });
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ provider: "cut", status: 200, api: "anthropic" });
  });
});

describe("continuation", () => {
  it("continues a stream cut mid-answer on a prefill provider: one text block, message_stop, the whole answer", async () => {
    const answer = Array.from({ length: 60 }, (_, i) => `word${i} `).join("");
    const cut = await scenario([{ type: "sse", content: answer, cut_after: 21, end: "reset" }]);
    const next = await scenario([{ type: "sse", content: answer, prefill: true }]);
    const res = await messagesCall(chainConfig({ cut: provider(cut.baseUrl), next: provider(next.baseUrl, { capabilities: ["prefill"] }) }), { stream: true });
    const all = await events(res);
    expect(all.map((e) => e.type).filter((t) => t !== "content_block_delta")).toEqual(["message_start", "ping", "content_block_start", "content_block_stop", "message_delta", "message_stop"]);
    expect(all.filter((e) => e.type === "content_block_delta").map((e) => e.delta.text).join("")).toBe(answer);
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ continued: true, api: "anthropic" });
  });
});

describe("client disconnect", () => {
  it("stops the upstream call and logs infer_cancelled when the client stops reading", async () => {
    const a = await scenario([{ type: "sse", content: "a long answer", end: "hang" }]);
    const res = await messagesCall(chainConfig({ a: provider(a.baseUrl) }), { stream: true });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(logs.events().find((e) => e.event === "infer_cancelled")).toMatchObject({ provider: "a", stream: true, api: "anthropic" });
    await expect.poll(async () => (await a.calls())[0]!.abandoned).toBe(true);
  });

  it("stops the walk's answer when the client leaves during the pings", async () => {
    const slow = await scenario([{ type: "sse", first_delay_ms: 300, content: "late", end: "hang" }]);
    const res = await messagesCall(chainConfig({ slow: provider(slow.baseUrl) }, { messages_ping_ms: 50 }), { stream: true });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("message_start");
    await reader.cancel();
    await expect.poll(async () => (await slow.calls())[0]?.abandoned, { timeout: 3_000 }).toBe(true);
    await settled(res);
    expect(logs.events().filter((e) => ["infer_completed", "infer_failed", "infer_cancelled"].includes(e.event))).toHaveLength(1);
  });
});

describe("Messages API errors", () => {
  it("answers Anthropic-shaped errors with retry-after when every provider is rate limited", async () => {
    const a = await scenario([{ type: "json", status: 429, headers: { "retry-after": "30" }, body: { error: { message: "slow" } } }]);
    const res = await messagesCall(chainConfig({ a: provider(a.baseUrl) }), {});
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("30");
    expect(res.headers.get("request-id")).toBeTruthy();
    expect(res.headers.get("x-request-id")).toBe(res.headers.get("request-id"));
    const body = (await res.json()) as Record<string, any>;
    expect(body).toEqual({ type: "error", error: { type: "rate_limit_error", message: expect.stringContaining("a: RateLimit (429)") } });
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ status: 429, api: "anthropic" });
  });

  it("answers overloaded_error when the chain failed for other reasons", async () => {
    const a = await scenario([{ type: "json", status: 500, body: { error: { message: "boom" } } }]);
    const res = await messagesCall(chainConfig({ a: provider(a.baseUrl, { retries: 0 }) }), {});
    expect(res.status).toBe(503);
    expect(((await res.json()) as Record<string, any>).error.type).toBe("overloaded_error");
  });

  it.each([
    ["a missing key", { "x-api-key": "" }, 401, "authentication_error"],
    ["a wrong x-api-key", { "x-api-key": "sk-wrong-key-000" }, 401, "authentication_error"],
  ])("refuses %s with authentication_error", async (_what, headers, status, type) => {
    const res = await messagesCall(chainConfig({ a: provider("http://127.0.0.1:9") }), {}, headers);
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ type: "error", error: { type, message: expect.any(String) } });
  });

  it("takes Authorization: Bearer as well, and ignores ?beta=true and anthropic-beta", async () => {
    const a = await scenario();
    const res = await call({
      config: chainConfig({ a: provider(a.baseUrl) }),
      path: "/v1/messages?beta=true",
      headers: { "anthropic-beta": "interleaved-thinking-2025-05-14" },
      body: { model: "default", max_tokens: 5, messages: [{ role: "user", content: "Hi" }] },
    });
    expect(res.status).toBe(200);
  });

  it.each([
    ["a server tool", { tools: [{ type: "web_search_20250305", name: "web_search" }] }, "tools[0].type", "web_search_20250305"],
    ["a document block", { messages: [{ role: "user", content: [{ type: "document", source: { type: "text", data: "x" } }] }] }, "messages[0].content[0]", "document"],
    ["no max_tokens", { max_tokens: undefined }, "max_tokens", "max_tokens"],
    ["a tool role message", { messages: [{ role: "tool", content: "x" }] }, "messages[0].role", "tool"],
  ])("answers 400 invalid_request_error for %s, naming it", async (_what, body, param, named) => {
    const res = await messagesCall(chainConfig({ a: provider("http://127.0.0.1:9") }), body);
    expect(res.status).toBe(400);
    const error = ((await res.json()) as Record<string, any>).error;
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toContain(param);
    expect(error.message).toContain(named);
  });

  it.each([
    ["a wrong method", "GET", "/v1/messages", 405, "invalid_request_error", "GET is not allowed on /v1/messages: use POST"],
    ["a wrong method on count_tokens", "GET", "/v1/messages/count_tokens", 405, "invalid_request_error", "GET is not allowed on /v1/messages/count_tokens: use POST"],
    ["an unknown path under /v1/messages", "POST", "/v1/messages/batches", 404, "not_found_error", "Unknown endpoint"],
  ])("answers %s in Anthropic's shape", async (_what, method, path, status, type, message) => {
    const res = await call({ config: chainConfig({ a: provider("http://127.0.0.1:9") }), method, path, headers: ANTHROPIC, body: method === "GET" ? undefined : { model: "default" } });
    expect(res.status).toBe(status);
    expect(res.headers.get("request-id")).toBeTruthy();
    expect(await res.json()).toEqual({ type: "error", error: { type, message: expect.stringContaining(message) } });
  });

  it("answers not_found_error for an unknown model without a default route", async () => {
    const res = await messagesCall({ routes: { fast: ["a"] }, providers: { a: provider("http://127.0.0.1:9") } }, { model: "claude-opus-4-1" });
    expect(res.status).toBe(404);
    expect(((await res.json()) as Record<string, any>).error.type).toBe("not_found_error");
  });
});

describe("model names", () => {
  it("routes claude-* names through model_aliases, and names the route in the answer", async () => {
    const fast = await scenario();
    const smart = await scenario();
    const config = {
      routes: { fast: ["f"], smart: ["s"] },
      providers: { f: provider(fast.baseUrl), s: provider(smart.baseUrl) },
      model_aliases: { "claude-3-5-haiku-20241022": "fast", "claude-*haiku*": "fast", "claude-*": "smart" },
      default_route: "fast",
    };
    for (const [model, route] of [["claude-sonnet-4-5-20250929", "smart"], ["claude-haiku-4-5-20251001", "fast"], ["claude-3-5-haiku-20241022", "fast"], ["gpt-4o", "fast"]]) {
      const res = await messagesCall(config, { model });
      expect(((await res.json()) as Record<string, any>).model, model).toBe(route);
    }
    expect(await smart.calls()).toHaveLength(1);
  });

  it("lists routes in the Anthropic shape when the request has anthropic-version", async () => {
    const config = { routes: { fast: ["a"], smart: ["a"] }, providers: { a: provider("http://127.0.0.1:9") } };
    const res = await call({ config, method: "GET", path: "/v1/models", headers: ANTHROPIC });
    expect(await res.json()).toEqual({
      data: [
        { type: "model", id: "fast", display_name: "fast", created_at: "1970-01-01T00:00:00Z" },
        { type: "model", id: "smart", display_name: "smart", created_at: "1970-01-01T00:00:00Z" },
      ],
      has_more: false,
      first_id: "fast",
      last_id: "smart",
    });
    const openai = (await (await call({ config, method: "GET", path: "/v1/models" })).json()) as Record<string, any>;
    expect(openai.object).toBe("list");
    const one = await call({ config, method: "GET", path: "/v1/models/smart", headers: ANTHROPIC });
    expect(await one.json()).toEqual({ type: "model", id: "smart", display_name: "smart", created_at: "1970-01-01T00:00:00Z" });
    const missing = await call({ config, method: "GET", path: "/v1/models/claude-opus-4-1", headers: ANTHROPIC });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Record<string, any>).error.type).toBe("not_found_error");
  });
});

describe("POST /v1/messages/count_tokens", () => {
  it("answers the router's prompt estimate, growing with the prompt and the tools", async () => {
    const config = chainConfig({ a: provider("http://127.0.0.1:9") });
    const count = async (body: Record<string, unknown>) => {
      const res = await call({ config, path: "/v1/messages/count_tokens", headers: ANTHROPIC, body: { model: "claude-sonnet-4-5", messages: [{ role: "user", content: "Hello there, how are you today?" }], ...body } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { input_tokens: number }).input_tokens;
    };
    const plain = await count({});
    expect(plain).toBeGreaterThan(0);
    expect(await count({ system: "You are a careful assistant who answers briefly." })).toBeGreaterThan(plain);
    expect(await count({ tools: [{ name: "get_weather", description: "Weather for a city", input_schema: { type: "object", properties: { city: { type: "string" } } } }] })).toBeGreaterThan(plain);
    const bad = await call({ config, path: "/v1/messages/count_tokens", headers: ANTHROPIC, body: { model: "x" } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Record<string, any>).error.type).toBe("invalid_request_error");
  });
});

describe("pings while the first token is slow", () => {
  it("sends message_start and pings until the first token, then streams on from the same message", async () => {
    const slow = await scenario([{ type: "sse", first_delay_ms: 400, events: [delta({ role: "assistant", content: "Hi" }), delta({}, "stop"), usageChunk] }]);
    const res = await messagesCall(chainConfig({ slow: provider(slow.baseUrl) }, { messages_ping_ms: 100 }), { stream: true });
    expect(res.status).toBe(200);
    const types = (await events(res)).map((e) => e.type);
    expect(types[0]).toBe("message_start");
    const pings = types.slice(1, types.indexOf("content_block_start"));
    expect(pings.length).toBeGreaterThanOrEqual(2);
    expect(new Set(pings)).toEqual(new Set(["ping"]));
    expect(types.slice(types.indexOf("content_block_start"))).toEqual(["content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
    expect(types.filter((t) => t === "message_start")).toHaveLength(1);
  });

  it("ends with an error event (the chain's error type) when the chain fails after the pings began", async () => {
    const limited = await scenario([{ type: "json", status: 429, delay_ms: 300, headers: { "retry-after": "30" }, body: { error: { message: "slow down" } } }]);
    const res = await messagesCall(chainConfig({ limited: provider(limited.baseUrl) }, { messages_ping_ms: 100 }), { stream: true });
    expect(res.status).toBe(200);
    const all = await events(res);
    expect(all[0]!.type).toBe("message_start");
    expect(all.at(-1)).toEqual({ type: "error", error: { type: "rate_limit_error", message: expect.stringContaining("limited: RateLimit (429)") } });
    expect(all.some((e) => e.type === "message_stop")).toBe(false);
    await settled(res);
    expect(logs.events().filter((e) => e.event === "infer_failed")).toMatchObject([{ status: 429, category: "RateLimit", api: "anthropic" }]);
  });

  it("keeps the HTTP status of a chain that fails before the first ping", async () => {
    const limited = await scenario([{ type: "json", status: 429, headers: { "retry-after": "30" }, body: { error: { message: "slow down" } } }]);
    const res = await messagesCall(chainConfig({ limited: provider(limited.baseUrl) }), { stream: true });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("30");
    expect(((await res.json()) as Record<string, any>).error.type).toBe("rate_limit_error");
  });
});
