// `type = "anthropic"` providers through the chat endpoint: the Messages request the fake receives,
// answers, streams, tool calls both ways, usage, stop reasons, and each error category with failover.
import { describe, expect, it } from "vitest";
import { capabilitiesOf, ProviderSchema, rejectsPrefill } from "../../shared/config.ts";
import { anthropicErrorBody, message, messageEvents, type FakeBlock } from "../support/fake-anthropic-protocol.ts";
import type { Step } from "../support/fake-provider-protocol.ts";
import { call, chainConfig, chat, namedEvents, provider, scenario, sseData } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();

function claude(baseUrl: string, extra: Record<string, unknown> = {}) {
  return provider(baseUrl, { type: "anthropic", model: "claude-sonnet-4-5", ...extra });
}

const completed = () => logs.events().find((e) => e.event === "infer_completed");
const fallbackFor = (id: string) => logs.events().find((e) => e.event === "infer_fallback" && e.provider === id);

type Completion = { choices: Array<{ message: { content: string | null; tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>; reasoning_content?: string }; finish_reason: string }>; usage: Record<string, unknown> };

/** The chat chunks of a stream (without [DONE]) and whether it ended with [DONE]. */
async function chunksOf(res: Response) {
  const data = await sseData(res);
  const done = data.at(-1) === "[DONE]";
  return { done, chunks: data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d)) };
}

const TOOL = { type: "function", function: { name: "get_weather", description: "weather of a city", parameters: { type: "object", properties: { city: { type: "string" } } } } };

describe("anthropic provider: the Messages request", () => {
  it("posts to /messages with x-api-key, anthropic-version and anthropic-beta, and no Authorization", async () => {
    const a = await scenario();
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl, { anthropic_beta: ["prompt-caching-2024-07-31", "x-2"] }) }) });
    expect(res.status).toBe(200);
    const [upstream] = await a.calls();
    expect(upstream!.path).toBe(`/s/${a.id}/v1/messages`);
    expect(upstream!.headers["x-api-key"]).toBe("sk-upstream-secret-123456");
    expect(upstream!.headers.authorization).toBeUndefined();
    expect(upstream!.headers["anthropic-version"]).toBe("2023-06-01");
    expect(upstream!.headers["anthropic-beta"]).toBe("prompt-caching-2024-07-31,x-2");
  });

  it("takes the version and key header from the config", async () => {
    const a = await scenario();
    await call({ config: chainConfig({ a: claude(a.baseUrl, { anthropic_version: "2024-01-01", api_key_header: "authorization" }) }) });
    const [upstream] = await a.calls();
    expect(upstream!.headers["anthropic-version"]).toBe("2024-01-01");
    expect(upstream!.headers.authorization).toBe("Bearer sk-upstream-secret-123456");
    expect(upstream!.headers["x-api-key"]).toBeUndefined();
  });

  it("moves system messages to system, merges tool results into one user turn, and translates tools, images and stops", async () => {
    const a = await scenario();
    const body = chat({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "developer", content: [{ type: "text", text: "Use tools." }] },
        { role: "user", content: [{ type: "text", text: "Weather here?" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0K" } }, { type: "image_url", image_url: { url: "https://example.com/a.jpg" } }] },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }, { id: "call_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: "cold" },
        { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "warm" }] },
        { role: "user", content: "Thanks" },
      ],
      tools: [TOOL],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      parallel_tool_calls: false,
      stop: "END",
      temperature: 1.5,
      top_p: 0.9,
      user: "u-42",
      seed: 7,
      n: 1,
    });
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl) }), body });
    expect(res.status).toBe(200);
    const [upstream] = await a.calls();
    expect(upstream!.body).toEqual({
      model: "claude-sonnet-4-5",
      max_tokens: 4096,
      system: [{ type: "text", text: "Be brief.\n\nUse tools." }],
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Weather here?" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0K" } },
            { type: "image", source: { type: "url", url: "https://example.com/a.jpg" } },
          ],
        },
        {
          role: "assistant",
          content: [
            { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Oslo" } },
            { type: "tool_use", id: "call_2", name: "get_weather", input: { city: "Rome" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "call_1", content: [{ type: "text", text: "cold" }] },
            { type: "tool_result", tool_use_id: "call_2", content: [{ type: "text", text: "warm" }] },
            { type: "text", text: "Thanks" },
          ],
        },
      ],
      temperature: 1,
      top_p: 0.9,
      stop_sequences: ["END"],
      metadata: { user_id: "u-42" },
      tools: [{ name: "get_weather", description: "weather of a city", input_schema: TOOL.function.parameters }],
      tool_choice: { type: "tool", name: "get_weather", disable_parallel_tool_use: true },
    });
  });

  it.each([
    ["the request's max_completion_tokens", { max_completion_tokens: 50, max_tokens: 70 }, {}, 50],
    ["the request's max_tokens", { max_tokens: 70 }, { max_output_tokens: 900 }, 70],
    ["the provider's max_output_tokens", {}, { max_output_tokens: 900 }, 900],
    ["the operator's body_overrides", { max_tokens: 70 }, { body_overrides: { max_tokens: 20, top_k: 5 } }, 20],
  ])("sends max_tokens from %s", async (_name, request, extra, expected) => {
    const a = await scenario();
    await call({ config: chainConfig({ a: claude(a.baseUrl, extra) }), body: chat(request) });
    const [upstream] = await a.calls();
    expect(upstream!.body.max_tokens).toBe(expected);
  });

  it("keeps the tools with tool_choice none (history with tool_use needs them) and trims a prefill's trailing whitespace", async () => {
    const a = await scenario();
    const body = chat({ messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Sure, " }], tools: [TOOL], tool_choice: "none" });
    await call({ config: chainConfig({ a: claude(a.baseUrl) }), body });
    const [upstream] = await a.calls();
    expect(upstream!.body.tool_choice).toEqual({ type: "none" });
    expect(upstream!.body.tools).toHaveLength(1);
    expect(upstream!.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Hi" }] },
      { role: "assistant", content: [{ type: "text", text: "Sure," }] },
    ]);
  });
});

describe("anthropic provider: JSON answers", () => {
  it("answers the text, usage with cache tokens, and the terminal line's tokens", async () => {
    const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 80, cache_creation_input_tokens: 10 };
    const a = await scenario([{ type: "json", body: message("claude-sonnet-4-5", "Hi there", "end_turn", usage) }]);
    // Anthropic's prices for Sonnet: reads 0.1x input, 5-minute writes 1.25x.
    const price = { input_per_mtok: 3, output_per_mtok: 15, cached_input_per_mtok: 0.3, cache_write_per_mtok: 3.75 };
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl, { price }) }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Completion;
    expect(body.choices[0]!.message.content).toBe("Hi there");
    expect(body.choices[0]!.finish_reason).toBe("stop");
    expect(body.usage).toEqual({ prompt_tokens: 100, completion_tokens: 5, total_tokens: 105, prompt_tokens_details: { cached_tokens: 80, cache_write_tokens: 10 } });
    expect(completed()).toMatchObject({ provider: "a", prompt_tokens: 100, completion_tokens: 5, finish_reason: "stop" });
    expect(completed()!.cost_usd).toBeCloseTo((10 * 3 + 80 * 0.3 + 10 * 3.75 + 5 * 15) / 1e6, 15);
  });

  it.each([
    ["max_tokens", "length"],
    ["stop_sequence", "stop"],
    ["refusal", "content_filter"],
  ])("maps stop_reason %s to finish_reason %s", async (stop, finish) => {
    const a = await scenario([{ type: "json", body: message("m", "x", stop) }]);
    const body = (await (await call({ config: chainConfig({ a: claude(a.baseUrl) }) })).json()) as Completion;
    expect(body.choices[0]!.finish_reason).toBe(finish);
  });

  it("answers tool_use blocks as tool_calls and thinking as reasoning_content", async () => {
    const blocks: FakeBlock[] = [
      { type: "thinking", thinking: "The user wants weather.", signature: "sig" },
      { type: "text", text: "Checking." },
      { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Oslo" } },
    ];
    const a = await scenario([{ type: "json", body: message("m", blocks, "tool_use") }]);
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl) }), body: chat({ tools: [TOOL] }) });
    const choice = ((await res.json()) as Completion).choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBe("Checking.");
    expect(choice.message.reasoning_content).toBe("The user wants weather.");
    expect(choice.message.tool_calls).toEqual([{ id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }]);
  });

  it("fails over on a 200 that is not a Messages answer", async () => {
    const a = await scenario([{ type: "json", body: { hello: "world" } }]);
    const b = await scenario();
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl, { retries: 0 }), b: provider(b.baseUrl) }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(fallbackFor("a")).toMatchObject({ category: "ServerError" });
  });
});

describe("anthropic provider: streams", () => {
  it("streams text as chat chunks ending in [DONE], with the usage chunk the client asked for", async () => {
    const a = await scenario([{ type: "sse" }]);
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl) }), body: chat({ stream: true, stream_options: { include_usage: true } }) });
    expect(res.status).toBe(200);
    const { done, chunks } = await chunksOf(res);
    expect(done).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe(`Hello from ${a.id}`);
    expect(chunks.every((c) => c.id === "msg_fake" && c.object === "chat.completion.chunk")).toBe(true);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe("stop");
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } });
    expect(completed()).toMatchObject({ provider: "a", stream: true, prompt_tokens: 7, completion_tokens: 3, finish_reason: "stop" });
    const [upstream] = await a.calls();
    expect(upstream!.body.stream).toBe(true);
    expect(upstream!.body.stream_options).toBeUndefined();
  });

  it("keeps the usage out of a stream whose client did not ask, but logs it", async () => {
    const a = await scenario([{ type: "sse" }]);
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl) }), body: chat({ stream: true }) });
    const { chunks } = await chunksOf(res);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(completed()).toMatchObject({ prompt_tokens: 7, completion_tokens: 3 });
  });

  it("streams tool_use blocks as tool_call deltas (parallel calls by index) and thinking as reasoning_content", async () => {
    const blocks: FakeBlock[] = [
      { type: "thinking", thinking: "hmm", signature: "sig" },
      { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Oslo" } },
      { type: "tool_use", id: "toolu_2", name: "get_weather", input: { city: "Rome" } },
    ];
    const a = await scenario([{ type: "sse", events: messageEvents("m", blocks, "tool_use") }]);
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl) }), body: chat({ stream: true, tools: [TOOL] }) });
    const { done, chunks } = await chunksOf(res);
    expect(done).toBe(true);
    const deltas = chunks.map((c) => c.choices[0]?.delta ?? {});
    expect(deltas.map((d) => d.reasoning_content ?? "").join("")).toBe("hmm");
    const calls: Array<{ id?: string; name?: string; arguments: string }> = [];
    for (const delta of deltas) {
      for (const call of delta.tool_calls ?? []) {
        const entry = (calls[call.index] ??= { arguments: "" });
        if (call.id) entry.id = call.id;
        if (call.function?.name) entry.name = call.function.name;
        entry.arguments += call.function?.arguments ?? "";
      }
    }
    expect(calls).toEqual([
      { id: "toolu_1", name: "get_weather", arguments: '{"city":"Oslo"}' },
      { id: "toolu_2", name: "get_weather", arguments: '{"city":"Rome"}' },
    ]);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe("tool_calls");
  });

  it("assembles a JSON answer for a JSON client of a streamed call (never: anthropic is streamed only for streams)", async () => {
    const a = await scenario();
    await call({ config: chainConfig({ a: claude(a.baseUrl) }) });
    const [upstream] = await a.calls();
    expect(upstream!.body.stream).toBeUndefined();
    expect(upstream!.headers.accept).toBe("application/json");
  });

  it("fails over on an error event before the first token", async () => {
    const events = [messageEvents("m", "x")[0], { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }];
    const a = await scenario([{ type: "sse", events }]);
    const b = await scenario();
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl, { retries: 0 }), b: provider(b.baseUrl) }), body: chat({ stream: true }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(fallbackFor("a")).toMatchObject({ category: "ServerError", status: 529 });
    const { chunks } = await chunksOf(res);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe(`Hello from ${b.id}`);
  });

  it("ends honestly on an error event after the answer began: an error frame, no [DONE], a failed terminal line", async () => {
    const events = messageEvents("m", "one two three").slice(0, 5);
    events.push({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    const a = await scenario([{ type: "sse", events }]);
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(data).not.toContain("[DONE]");
    expect(JSON.parse(data.at(-1)!).error.message).toContain("Overloaded");
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ provider: "a", category: "ServerError" });
  });

  it("ends honestly when the stream closes before message_delta", async () => {
    const a = await scenario([{ type: "sse", cut_after: 5, end: "close" }]);
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(data).not.toContain("[DONE]");
    expect(JSON.parse(data.at(-1)!).error).toBeTruthy();
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ provider: "a" });
  });
});

describe("anthropic provider: upstream errors", () => {
  const rateLimited = anthropicErrorBody("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit");
  it.each([
    ["429 rate_limit_error", { type: "json", status: 429, headers: { "retry-after": "7" }, body: rateLimited }, "RateLimit", 429],
    ["529 overloaded_error", { type: "json", status: 529, body: anthropicErrorBody("overloaded_error", "Overloaded") }, "ServerError", 529],
    ["a 200 whose body is an overloaded_error", { type: "json", status: 200, body: anthropicErrorBody("overloaded_error", "Overloaded") }, "ServerError", 529],
    ["401 authentication_error", { type: "json", status: 401, body: anthropicErrorBody("authentication_error", "invalid x-api-key") }, "AuthError", 401],
    ["403 permission_error", { type: "json", status: 403, body: anthropicErrorBody("permission_error", "not allowed") }, "AuthError", 403],
    ["400 prompt is too long", { type: "json", status: 400, body: anthropicErrorBody("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum") }, "ContextLengthExceeded", 400],
  ] as Array<[string, Step, string, number]>)("fails over on %s", async (_name, step, category, status) => {
    const a = await scenario([step]);
    const b = await scenario();
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl, { retries: 0 }), b: provider(b.baseUrl) }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(fallbackFor("a")).toMatchObject({ category, status });
  });

  it("answers a 400 invalid_request_error without failing over, with upstream's message", async () => {
    const a = await scenario([{ type: "json", status: 400, body: anthropicErrorBody("invalid_request_error", "messages.0.content: bad block") }]);
    const b = await scenario();
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl), b: provider(b.baseUrl) }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string; type: string } }).error).toMatchObject({ type: "invalid_request_error", message: "a: messages.0.content: bad block" });
    expect(await b.calls()).toHaveLength(0);
  });

  it("cools a provider down until the anthropic-ratelimit reset of the limit it spent", async () => {
    const now = Date.now();
    const headers = {
      "anthropic-ratelimit-requests-remaining": "40",
      "anthropic-ratelimit-requests-reset": new Date(now + 5_000).toISOString(),
      "anthropic-ratelimit-tokens-remaining": "0",
      "anthropic-ratelimit-tokens-reset": new Date(now + 90_000).toISOString(),
    };
    const a = await scenario([{ type: "json", status: 429, headers, body: rateLimited }, { type: "json" }]);
    const b = await scenario();
    const config = chainConfig({ a: claude(a.baseUrl), b: provider(b.baseUrl) });
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("b");
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("b");
    expect(await a.calls()).toHaveLength(1);
    const skip = logs.events().find((e) => e.event === "infer_skipped" && e.provider === "a");
    expect(skip).toMatchObject({ reason: "cooldown" });
    const retryAt = Date.parse(skip!.retry_at!);
    expect(retryAt).toBeGreaterThanOrEqual(now + 89_000);
    expect(retryAt).toBeLessThanOrEqual(now + 91_000);
  });

  it("fails over on a 529 in the middle of a chain of streams too", async () => {
    const a = await scenario([{ type: "json", status: 529, body: anthropicErrorBody("overloaded_error", "Overloaded") }]);
    const b = await scenario([{ type: "sse" }]);
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl, { retries: 0 }), b: claude(b.baseUrl) }), body: chat({ stream: true }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    const { done, chunks } = await chunksOf(res);
    expect(done).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe(`Hello from ${b.id}`);
  });
});

describe("anthropic provider: prefill", () => {
  it.each([
    ["claude-sonnet-4-5", true],
    ["claude-sonnet-4-20250514", true],
    ["claude-3-5-sonnet-20241022", true],
    ["claude-opus-4-1-20250805", true],
    ["MiniMax-M2", true],
    ["claude-opus-4-6", false],
    ["claude-sonnet-4.6", false],
    ["claude-opus-4-7-20260301", false],
    ["claude-sonnet-5", false],
  ])("%s: prefill by default is %s", (model, prefill) => {
    expect(rejectsPrefill(model)).toBe(!prefill);
    const caps = capabilitiesOf(ProviderSchema.parse({ type: "anthropic", base_url: "https://api.anthropic.com/v1", model }));
    expect(caps.has("prefill")).toBe(prefill);
    expect(caps.has("tools") && caps.has("vision") && !caps.has("json_schema")).toBe(true);
  });

  it("takes capabilities from the config over the default", () => {
    const caps = capabilitiesOf(ProviderSchema.parse({ type: "anthropic", base_url: "https://x.test/v1", model: "claude-opus-4-6", capabilities: ["tools", "prefill"] }));
    expect([...caps]).toEqual(["tools", "prefill"]);
  });

  const ANSWER = Array.from({ length: 30 }, (_, i) => `word${i + 1}`).join(" ");
  it("continues a broken stream on an anthropic provider, its prefill trimmed and the text not doubling the space", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 11, end: "reset" }]);
    const c = await scenario([{ type: "sse", content: ANSWER, prefill: true }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl), c: claude(c.baseUrl) }), body: chat({ stream: true }) });
    const { done, chunks } = await chunksOf(res);
    expect(done).toBe(true);
    expect(chunks.map((ch) => ch.choices[0]?.delta?.content ?? "").join("")).toBe(ANSWER);
    const [sent] = await c.calls();
    expect((sent!.body.messages as Array<{ role: string; content: unknown }>).at(-1)).toEqual({ role: "assistant", content: [{ type: "text", text: ANSWER.split(" ").slice(0, 10).join(" ") }] });
    expect(completed()).toMatchObject({ provider: "c", continued: true });
  });

  it("never continues on a Claude 4.6 provider without prefill in its config", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 11, end: "reset" }]);
    const c = await scenario([{ type: "sse", content: ANSWER, prefill: true }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl), c: claude(c.baseUrl, { model: "claude-opus-4-6" }) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(data).not.toContain("[DONE]");
    expect(await c.calls()).toHaveLength(0);
  });
});

describe("anthropic provider: config", () => {
  it("refuses anthropic keys on other types and embeddings on anthropic", () => {
    const other = ProviderSchema.safeParse({ type: "openai_compatible", base_url: "https://x.test/v1", model: "m", anthropic_version: "2023-06-01" });
    expect(other.success).toBe(false);
    expect(other.error!.issues[0]).toMatchObject({ path: ["anthropic_version"], message: 'anthropic_version is only for type = "anthropic"' });
    const embeddings = ProviderSchema.safeParse({ type: "anthropic", base_url: "https://x.test/v1", model: "m", endpoint: "embeddings" });
    expect(embeddings.error!.issues[0]).toMatchObject({ path: ["endpoint"] });
  });
});

describe("anthropic provider: a Messages client passed through", () => {
  const ANTHROPIC = { authorization: "", "x-api-key": "sk-test-client-1", "anthropic-version": "2023-06-01" };
  const request = {
    model: "default",
    max_tokens: 300,
    system: [{ type: "text", text: "Be brief", cache_control: { type: "ephemeral" } }],
    messages: [
      { role: "user", content: [{ type: "text", text: "Hi", cache_control: { type: "ephemeral" } }] },
      { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature: "sig-1" }, { type: "text", text: "Hello." }] },
      { role: "user", content: [{ type: "text", text: "Say END" }] },
    ],
    top_k: 5,
    stop_sequences: ["END"],
    thinking: { type: "enabled", budget_tokens: 1024 },
  };

  it("sends the client's own request (cache_control, thinking signatures, top_k) with the provider's model, and answers its stop sequence", async () => {
    const answer = { ...message("claude-sonnet-4-5", "Done "), stop_reason: "stop_sequence", stop_sequence: "END" };
    const a = await scenario([{ type: "json", body: answer }]);
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl) }), path: "/v1/messages", headers: ANTHROPIC, body: request });
    expect(res.status).toBe(200);
    const [upstream] = await a.calls();
    expect(upstream!.body).toEqual({ ...request, model: "claude-sonnet-4-5" });
    expect(await res.json()).toMatchObject({ type: "message", content: [{ type: "text", text: "Done " }], stop_reason: "stop_sequence", stop_sequence: "END" });
    expect(completed()).toMatchObject({ provider: "a", prompt_tokens: 7, completion_tokens: 3 });
  });

  it("caps max_tokens at the provider's max_output_tokens and keeps the thinking budget below it (Claude Code's 32000 with 31999 of thinking)", async () => {
    const a = await scenario([{ type: "json", body: message("claude-sonnet-4-5", "Hi") }, { type: "json", body: message("claude-sonnet-4-5", "Hi") }]);
    const ask = (maxOutput: number) => call({ config: chainConfig({ a: claude(a.baseUrl, { max_output_tokens: maxOutput }) }), path: "/v1/messages", headers: ANTHROPIC, body: { ...request, max_tokens: 32_000, thinking: { type: "enabled", budget_tokens: 31_999 } } });
    expect((await ask(16_000)).status).toBe(200);
    expect((await ask(1_000)).status).toBe(200);
    const [capped, tiny] = await a.calls();
    expect(capped!.body).toMatchObject({ max_tokens: 16_000, thinking: { type: "enabled", budget_tokens: 15_999 } });
    // Below Anthropic's least budget (1024) there is no room for thinking: it is left out.
    expect(tiny!.body.max_tokens).toBe(1_000);
    expect(tiny!.body.thinking).toBeUndefined();
  });

  it("gives a Messages client the provider's cache reads and writes as it reported them", async () => {
    const usage = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 80, cache_creation_input_tokens: 10 };
    const a = await scenario([{ type: "json", body: message("claude-sonnet-4-5", "Hi", "end_turn", usage) }, { type: "sse", events: messageEvents("claude-sonnet-4-5", "Hi", "end_turn", usage) }]);
    const config = chainConfig({ a: claude(a.baseUrl) });
    const res = await call({ config, path: "/v1/messages", headers: ANTHROPIC, body: request });
    expect(((await res.json()) as { usage: unknown }).usage).toEqual(usage);
    // Streamed: message_start has Anthropic's usage fields before anything is known, message_delta the counts.
    const events = await namedEvents(await call({ config, path: "/v1/messages", headers: ANTHROPIC, body: { ...request, stream: true } }));
    expect(events[0]!.message.usage).toEqual({ input_tokens: expect.any(Number), output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    expect(events.find((e) => e.type === "message_delta")!.usage).toEqual(usage);
  });

  it("streams the pass-through answer as Messages events, the stop sequence kept", async () => {
    const events = messageEvents("claude-sonnet-4-5", "Done ", "stop_sequence");
    (events.at(-2) as { delta: { stop_sequence: string } }).delta.stop_sequence = "END";
    const a = await scenario([{ type: "sse", events }]);
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl) }), path: "/v1/messages", headers: ANTHROPIC, body: { ...request, stream: true } });
    const text = await res.text();
    const [upstream] = await a.calls();
    expect(upstream!.body).toEqual({ ...request, model: "claude-sonnet-4-5", stream: true });
    expect(text).toContain('"text_delta","text":"Done "');
    expect(text).toMatch(/"stop_reason":"stop_sequence","stop_sequence":"END"/);
    expect(text.trimEnd().endsWith("event: message_stop\ndata: {\"type\":\"message_stop\"}")).toBe(true);
  });

  it("trims a prefill's trailing whitespace (Anthropic refuses it) for every provider of the chain, and drops it from the answer", async () => {
    const a = await scenario([{ type: "json", status: 529, body: anthropicErrorBody("overloaded_error", "Overloaded") }]);
    const b = await scenario([{ type: "json", body: message("claude-sonnet-4-5", " here it is") }]);
    const config = chainConfig({ a: claude(a.baseUrl, { retries: 0 }), b: claude(b.baseUrl) });
    const prefill = { model: "default", max_tokens: 50, messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Sure   " }] };
    const res = await call({ config, path: "/v1/messages", headers: ANTHROPIC, body: prefill });
    expect(await res.json()).toMatchObject({ content: [{ type: "text", text: "here it is" }] });
    const sent = [...(await a.calls()), ...(await b.calls())];
    expect(sent).toHaveLength(2);
    for (const upstream of sent) {
      expect((upstream.body.messages as unknown[]).at(-1)).toEqual({ role: "assistant", content: [{ type: "text", text: "Sure" }] });
    }
    // Block content: the last text block is trimmed, the blocks before it kept.
    const c = await scenario();
    const blocks = [{ type: "thinking", thinking: "hmm", signature: "sig-1" }, { type: "text", text: "Sure,\n " }];
    await call({ config: chainConfig({ c: claude(c.baseUrl) }), path: "/v1/messages", headers: ANTHROPIC, body: { ...prefill, messages: [prefill.messages[0], { role: "assistant", content: blocks }] } });
    const [upstream] = await c.calls();
    expect((upstream!.body.messages as unknown[]).at(-1)).toEqual({ role: "assistant", content: [blocks[0], { type: "text", text: "Sure," }] });
    // A prefill of whitespace alone (an empty text block, which Anthropic refuses too) is left out.
    const d = await scenario();
    await call({ config: chainConfig({ d: claude(d.baseUrl) }), path: "/v1/messages", headers: ANTHROPIC, body: { ...prefill, messages: [prefill.messages[0], { role: "assistant", content: "  \n" }] } });
    const [bare] = await d.calls();
    expect(bare!.body.messages).toEqual([{ role: "user", content: [{ type: "text", text: "Hi" }] }]);
  });

  it("caps the temperature at 1 (Anthropic's maximum; the edge takes OpenAI's 2), as the translation does", async () => {
    const a = await scenario();
    await call({ config: chainConfig({ a: claude(a.baseUrl) }), path: "/v1/messages", headers: ANTHROPIC, body: { ...request, temperature: 1.7 } });
    const [upstream] = await a.calls();
    expect(upstream!.body.temperature).toBe(1);
  });

  it("leaves out thinking blocks without a signature (ones a chat provider answered) and drops service_tier as on every provider", async () => {
    const a = await scenario();
    const history = [
      { role: "user", content: [{ type: "text", text: "Hi" }] },
      { role: "assistant", content: [{ type: "thinking", thinking: "unsigned", signature: "" }, { type: "text", text: "Hello." }] },
      { role: "user", content: [{ type: "text", text: "Again" }] },
    ];
    await call({ config: chainConfig({ a: claude(a.baseUrl) }), path: "/v1/messages", headers: ANTHROPIC, body: { model: "default", max_tokens: 10, messages: history, service_tier: "auto" } });
    const [upstream] = await a.calls();
    expect((upstream!.body.messages as unknown[])[1]).toEqual({ role: "assistant", content: [{ type: "text", text: "Hello." }] });
    expect(upstream!.body.service_tier).toBeUndefined();
  });

  const thinkingTool: FakeBlock[] = [
    { type: "thinking", thinking: "Need the weather.", signature: "sig-abc" },
    { type: "tool_use", id: "toolu_9", name: "get_weather", input: { city: "Oslo" } },
  ];
  const tools = [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }];

  it("gives a Messages client its thinking block with the signature, so the tool loop can send it back", async () => {
    const a = await scenario([{ type: "json", body: message("claude-sonnet-4-5", thinkingTool, "tool_use") }]);
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl) }), path: "/v1/messages", headers: ANTHROPIC, body: { ...request, tools } });
    const answer = (await res.json()) as { content: unknown[]; stop_reason: string };
    expect(answer.stop_reason).toBe("tool_use");
    expect(answer.content).toEqual([
      { type: "thinking", thinking: "Need the weather.", signature: "sig-abc" },
      { type: "tool_use", id: "toolu_9", name: "get_weather", input: { city: "Oslo" } },
    ]);
  });

  it("streams the signature_delta of a thinking block to a Messages client", async () => {
    const a = await scenario([{ type: "sse", events: messageEvents("claude-sonnet-4-5", thinkingTool, "tool_use") }]);
    const res = await call({ config: chainConfig({ a: claude(a.baseUrl) }), path: "/v1/messages", headers: ANTHROPIC, body: { ...request, tools, stream: true } });
    const events = (await res.text()).split("\n\n").filter(Boolean).map((frame) => JSON.parse(/^data: (.+)$/m.exec(frame)![1]!));
    const thinking = events.find((e) => e.type === "content_block_start" && e.content_block.type === "thinking");
    const deltas = events.filter((e) => e.type === "content_block_delta" && e.index === thinking.index).map((e) => e.delta);
    expect(deltas).toEqual([{ type: "thinking_delta", thinking: "Need the weather." }, { type: "signature_delta", signature: "sig-abc" }]);
    expect(events.find((e) => e.type === "message_delta").delta.stop_reason).toBe("tool_use");
  });

  it("sends the chat translation to a provider of another type on the same route", async () => {
    const a = await scenario();
    await call({ config: chainConfig({ a: provider(a.baseUrl) }), path: "/v1/messages", headers: ANTHROPIC, body: request });
    const [upstream] = await a.calls();
    expect(upstream!.path).toBe(`/s/${a.id}/v1/chat/completions`);
    expect((upstream!.body.messages as Array<{ role: string }>)[0]!.role).toBe("system");
    expect(upstream!.body.system).toBeUndefined();
  });
});

describe("anthropic provider: health probe", () => {
  it("probes GET /models with x-api-key and anthropic-version", async () => {
    const a = await scenario();
    const config = chainConfig({ a: claude(a.baseUrl, { anthropic_beta: "b-1" }) });
    const res = await call({ config, method: "GET", path: "/v1/providers/health", headers: { authorization: "Bearer sk-test-admin" } });
    expect(((await res.json()) as { providers: Record<string, { status: string }> }).providers.a).toMatchObject({ status: "reachable", url_path: `/s/${a.id}/v1/models` });
    const [probe] = await a.calls();
    expect(probe).toMatchObject({ method: "GET", headers: { "x-api-key": "sk-upstream-secret-123456", "anthropic-version": "2023-06-01", "anthropic-beta": "b-1" } });
  });
});

describe("anthropic provider: the Responses API and the native relay", () => {
  const tools = [{ type: "function", name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } }];

  it("answers a Responses function_call from tool_use, and sends its output back as a tool_result", async () => {
    const a = await scenario([
      { type: "json", body: message("m", [{ type: "tool_use", id: "toolu_r", name: "get_weather", input: { city: "Oslo" } }], "tool_use") },
      { type: "json", body: message("m", "Cold.") },
    ]);
    const config = chainConfig({ a: claude(a.baseUrl) });
    const asked = await call({ config, path: "/v1/responses", body: { model: "default", input: "Weather?", tools } });
    const output = ((await asked.json()) as { output: Array<Record<string, unknown>> }).output;
    expect(output).toEqual([expect.objectContaining({ type: "function_call", call_id: "toolu_r", name: "get_weather", arguments: '{"city":"Oslo"}' })]);
    const input = [{ role: "user", content: "Weather?" }, { type: "function_call", call_id: "toolu_r", name: "get_weather", arguments: '{"city":"Oslo"}' }, { type: "function_call_output", call_id: "toolu_r", output: "-3 C" }];
    const answered = await call({ config, path: "/v1/responses", body: { model: "default", input, tools } });
    expect(((await answered.json()) as { output_text: string }).output_text).toBe("Cold.");
    const [, second] = await a.calls();
    expect(second!.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather?" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_r", name: "get_weather", input: { city: "Oslo" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_r", content: [{ type: "text", text: "-3 C" }] }] },
    ]);
  });

  it("streams through the native relay (the translation feeds it), with the usage logged when asked", async () => {
    const a = await scenario([{ type: "sse" }]);
    const config = { ...chainConfig({ a: claude(a.baseUrl) }), routes: { default: { providers: ["a"], stream_relay: "native" } } };
    const res = await call({ config, body: chat({ stream: true, stream_options: { include_usage: true } }) });
    const { done, chunks } = await chunksOf(res);
    expect(done).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe(`Hello from ${a.id}`);
    expect(completed()).toMatchObject({ provider: "a", prompt_tokens: 7, completion_tokens: 3, finish_reason: "stop" });
  });
});
