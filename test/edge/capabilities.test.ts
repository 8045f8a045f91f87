// Capabilities and context windows: the plan skips providers that cannot take a request before any
// tracker call or upstream call, and a request nobody can take is a 400, never a 503.
import { describe, expect, it } from "vitest";
import { CHARS_PER_TOKEN, estimatePromptTokens, neededCapabilities } from "../../edge/routing/needs.ts";
import type { ChatCompletionRequest } from "../../shared/openai.ts";
import { call, chainConfig, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const ADMIN = { authorization: "Bearer sk-test-admin" };
const skips = (reason: string) => logs.events().filter((e) => e.event === "infer_skipped" && e.reason === reason);

const TOOLS = [{ type: "function", function: { name: "lookup", parameters: { type: "object", properties: {} } } }];
const IMAGE = [{ role: "user", content: [{ type: "text", text: "what is this?" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }];
const SCHEMA = { type: "json_schema", json_schema: { name: "answer", schema: { type: "object" } } };
/** A prompt of about `tokens` tokens by the documented estimate. */
const prompt = (tokens: number) => [{ role: "user", content: "x".repeat(tokens * CHARS_PER_TOKEN) }];

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string } };
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.error.code).toBe(code);
  return body.error;
}

describe("what a request needs", () => {
  it("reads tools, tool messages, image parts and json_schema from the body", () => {
    const body = (extra: Record<string, unknown>) => ({ ...chat(), ...extra }) as ChatCompletionRequest;
    expect(neededCapabilities(body({}))).toEqual([]);
    expect(neededCapabilities(body({ tools: TOOLS }))).toEqual(["tools"]);
    expect(neededCapabilities(body({ messages: [{ role: "tool", content: "42", tool_call_id: "c1" }] }))).toEqual(["tools"]);
    expect(neededCapabilities(body({ messages: IMAGE }))).toEqual(["vision"]);
    expect(neededCapabilities(body({ response_format: SCHEMA }))).toEqual(["json_schema"]);
    expect(neededCapabilities(body({ response_format: { type: "json_object" } }))).toEqual([]);
  });

  it("estimates prompt tokens at CHARS_PER_TOKEN characters a token, counting text, tool calls and tool definitions", () => {
    const text = { ...chat(), messages: [{ role: "user", content: "a".repeat(400) }] } as ChatCompletionRequest;
    expect(estimatePromptTokens(text)).toBe(400 / CHARS_PER_TOKEN);
    const withTools = { ...text, tools: TOOLS } as ChatCompletionRequest;
    expect(estimatePromptTokens(withTools)).toBe(Math.ceil((400 + JSON.stringify(TOOLS).length) / CHARS_PER_TOKEN));
  });
});

describe("capability skips", () => {
  it.each([
    ["tools", { tools: TOOLS }, "tools"],
    ["a tool message", { messages: [{ role: "user", content: "hi" }, { role: "tool", content: "42", tool_call_id: "c1" }] }, "tools"],
    ["an image part", { messages: IMAGE }, "vision"],
    ["response_format json_schema", { response_format: SCHEMA }, "json_schema"],
  ])("skips a provider without %s, logs the missing capability and calls the next", async (_name, extra, capability) => {
    const lacking = await scenario();
    const able = await scenario();
    const config = chainConfig({ lacking: provider(lacking.baseUrl, { capabilities: [] }), able: provider(able.baseUrl) });
    const res = await call({ config, body: chat(extra) });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("able");
    expect(await lacking.calls()).toHaveLength(0);
    expect(skips("capability")).toEqual([expect.objectContaining({ provider: "lacking", capability })]);
  });

  it("answers 400 unsupported_capability naming what is missing when no provider has it, calling none", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { capabilities: ["json_schema"] }), b: provider(b.baseUrl, { capabilities: ["vision"], requests_per_day: 5 }) });
    const res = await call({ config, body: chat({ tools: TOOLS }) });
    const error = await expectError(res, 400, "unsupported_capability");
    expect(error.type).toBe("invalid_request_error");
    expect(error.param).toBe("tools");
    expect(error.message).toContain("supports tools");
    expect(await a.calls()).toHaveLength(0);
    expect(await b.calls()).toHaveLength(0);
    // No quota spent: b's tracker was never asked.
    const quota = (await (await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN })).json()) as { providers: Record<string, { checks: number; requests_today: number }> };
    expect(quota.providers.b).toMatchObject({ checks: 0, requests_today: 0 });
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ status: 400, category: "BadRequest" });
  });

  it("takes a provider's default capabilities when it lists none, and exactly its list when it does", async () => {
    const listed = await scenario();
    const defaults = await scenario();
    const config = chainConfig({ listed: provider(listed.baseUrl, { capabilities: ["tools"] }), defaults: provider(defaults.baseUrl) });
    expect((await call({ config, body: chat({ tools: TOOLS }) })).headers.get("x-inferrouter-provider")).toBe("listed");
    expect((await call({ config, body: chat({ messages: IMAGE }) })).headers.get("x-inferrouter-provider")).toBe("defaults");
  });
});

describe("context window skips", () => {
  it("skips a provider whose window the estimate plus max_tokens exceeds, without a tracker call", async () => {
    const small = await scenario();
    const large = await scenario();
    const config = chainConfig({
      small: provider(small.baseUrl, { context_window: 1000, requests_per_day: 10 }),
      large: provider(large.baseUrl, { context_window: 100_000 }),
    });
    const res = await call({ config, body: chat({ messages: prompt(600), max_tokens: 500 }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("large");
    expect(await small.calls()).toHaveLength(0);
    expect(skips("context")).toEqual([expect.objectContaining({ provider: "small" })]);
    const quota = (await (await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN })).json()) as { providers: Record<string, { checks: number }> };
    expect(quota.providers.small!.checks).toBe(0);
    // The same prompt with a short answer fits.
    expect((await call({ config, body: chat({ messages: prompt(600), max_tokens: 100 }) })).headers.get("x-inferrouter-provider")).toBe("small");
  });

  it("uses max_output_tokens when the request sets no max_tokens, and max_completion_tokens before it", async () => {
    const small = await scenario();
    const other = await scenario();
    const config = chainConfig({ small: provider(small.baseUrl, { context_window: 1000, max_output_tokens: 800 }), other: provider(other.baseUrl) });
    expect((await call({ config, body: chat({ messages: prompt(300) }) })).headers.get("x-inferrouter-provider")).toBe("other");
    expect((await call({ config, body: chat({ messages: prompt(300), max_completion_tokens: 200 }) })).headers.get("x-inferrouter-provider")).toBe("small");
  });

  it("answers 400 context_length_exceeded, not a 503 to retry, when the providers that could be called were all too small and the rest have no key", async () => {
    const small = await scenario();
    const config = chainConfig({ small: provider(small.baseUrl, { context_window: 1000 }), nokey: provider("http://127.0.0.1:1/v1", { api_key_secret: "UNSET_KEY" }) });
    const error = await expectError(await call({ config, body: chat({ messages: prompt(5000) }) }), 400, "context_length_exceeded");
    expect(error.message).toContain("nokey: missing key");
  });

  it("caps a max_tokens over the provider's max_output_tokens, in the context check and in what is sent", async () => {
    const big = await scenario();
    const config = chainConfig({ big: provider(big.baseUrl, { context_window: 131_072, max_output_tokens: 32_768 }) });
    // Claude Code asks for 128000: 600 + 128000 would not fit the window, 600 + 32768 does.
    expect((await call({ config, body: chat({ messages: prompt(600), max_tokens: 128_000 }) })).headers.get("x-inferrouter-provider")).toBe("big");
    expect((await call({ config, body: chat({ messages: prompt(600), max_completion_tokens: 100 }) })).headers.get("x-inferrouter-provider")).toBe("big");
    const [first, second] = await big.calls();
    expect(first!.body.max_tokens).toBe(32_768);
    expect(second!.body.max_completion_tokens).toBe(100);
  });

  it("at a local_gguf provider counts the prompt alone: the sidecar shortens the answer to the room left", async () => {
    const local = await scenario();
    const config = chainConfig({ local: provider(local.baseUrl, { type: "local_gguf", context_window: 1000 }) });
    // Claude Code asks for 32000 tokens every turn; a 600-token prompt still fits a 1000-token window.
    expect((await call({ config, body: chat({ messages: prompt(600), max_tokens: 32_000 }) })).headers.get("x-inferrouter-provider")).toBe("local");
    expect(await local.calls()).toHaveLength(1);
    const error = await expectError(await call({ config, body: chat({ messages: prompt(1000), max_tokens: 10 }) }), 400, "context_length_exceeded");
    expect(error.message).toContain("context_window is 1000");
  });

  it("answers 400 context_length_exceeded when the prompt is too long for every provider, calling none", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { context_window: 1000 }), b: provider(b.baseUrl, { context_window: 2000, capabilities: [] }) });
    const error = await expectError(await call({ config, body: chat({ messages: prompt(5000) }) }), 400, "context_length_exceeded");
    expect(error.param).toBe("messages");
    expect(error.message).toContain("context_window is 1000");
    expect(await a.calls()).toHaveLength(0);
    expect(await b.calls()).toHaveLength(0);
  });
});

describe("ContextLengthExceeded from a provider", () => {
  const tooLong = { type: "json", status: 400, body: { error: { message: "This model's maximum context length is 8192 tokens", code: "context_length_exceeded" } } } as const;

  it("moves on only to providers with a larger or unknown window", async () => {
    const a = await scenario([tooLong]);
    const smaller = await scenario();
    const same = await scenario();
    const larger = await scenario();
    const config = chainConfig({
      a: provider(a.baseUrl, { context_window: 8192 }),
      smaller: provider(smaller.baseUrl, { context_window: 4096 }),
      same: provider(same.baseUrl, { context_window: 8192 }),
      larger: provider(larger.baseUrl, { context_window: 32_768 }),
    });
    const res = await call({ config });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("larger");
    expect(await smaller.calls()).toHaveLength(0);
    expect(await same.calls()).toHaveLength(0);
    expect(skips("context").map((e) => e.provider)).toEqual(["smaller", "same"]);
  });

  it("goes to a provider with an unknown window", async () => {
    const a = await scenario([tooLong]);
    const unknown = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { context_window: 8192 }), unknown: provider(unknown.baseUrl) });
    expect((await call({ config })).headers.get("x-inferrouter-provider")).toBe("unknown");
  });

  it("answers 400 context_length_exceeded with the provider's sanitized message when none is left, never 503", async () => {
    const a = await scenario([tooLong]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { context_window: 8192 }), b: provider(b.baseUrl, { context_window: 8000 }) });
    const error = await expectError(await call({ config }), 400, "context_length_exceeded");
    expect(error.message).toBe("a: This model's maximum context length is 8192 tokens");
    expect(await b.calls()).toHaveLength(0);
  });
});

describe("/v1/models", () => {
  it("lists each route with its context window and capabilities where known", async () => {
    const config = {
      routes: { big: ["a", "b"], plain: ["c"] },
      providers: {
        a: provider("http://127.0.0.1:1/v1", { context_window: 8192, max_output_tokens: 2048, capabilities: ["tools"] }),
        b: provider("http://127.0.0.1:1/v1", { context_window: 131_072, capabilities: ["vision"] }),
        c: provider("http://127.0.0.1:1/v1"),
      },
    };
    const res = await call({ config, method: "GET", path: "/v1/models" });
    const { data } = (await res.json()) as { data: Array<Record<string, unknown>> };
    expect(data).toEqual([
      { id: "big", object: "model", created: 0, owned_by: "inferrouter", context_window: 131_072, max_output_tokens: 2048, capabilities: ["tools", "vision"], strategy: "ordered" },
      { id: "plain", object: "model", created: 0, owned_by: "inferrouter", capabilities: ["tools", "vision", "json_schema"], strategy: "ordered" },
    ]);
  });
});
