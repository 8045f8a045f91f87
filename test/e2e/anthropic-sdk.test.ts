// The official Anthropic SDK (@anthropic-ai/sdk) against the whole edge under wrangler dev: the
// Messages API translated onto chains of scripted OpenAI-compatible providers.
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeProvider, type FakeProvider } from "../support/fake-provider.ts";
import { startWranglerDev, type WranglerDev } from "../support/wrangler-dev.ts";

const KEY = "sk-e2e-anthropic";
let fake: FakeProvider;
let edge: WranglerDev;

const base = { id: "c", object: "chat.completion.chunk", created: 1, model: "m" };
const delta = (d: Record<string, unknown>, finish: string | null = null) => ({ ...base, choices: [{ index: 0, delta: d, finish_reason: finish }] });
const toolCompletion = {
  id: "x", object: "chat.completion", created: 1, model: "m",
  choices: [{ index: 0, finish_reason: "tool_calls", message: { role: "assistant", content: null, tool_calls: [{ id: "call_w", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] } }],
  usage: { prompt_tokens: 30, completion_tokens: 8, total_tokens: 38 },
};

beforeAll(async () => {
  fake = await startFakeProvider();
  const script = (id: string, steps: unknown[]) => fetch(`${fake.url}/_script/${id}`, { method: "POST", body: JSON.stringify({ steps }) });
  await script("limited", [{ type: "json", status: 429, headers: { "retry-after": "30" }, body: { error: { message: "Rate limit reached", type: "rate_limit_error" } } }]);
  await script("tools", [
    { type: "json", body: toolCompletion },
    { type: "sse", events: [delta({ role: "assistant", tool_calls: [{ index: 0, id: "call_s", type: "function", function: { name: "get_weather", arguments: "" } }] }), delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Rome"}' } }] }), delta({}, "tool_calls")] },
  ]);
  const cloud = (id: string) => ({ type: "openai_compatible", base_url: `${fake.url}/s/${id}/v1`, model: `cloud-${id}`, api_key_secret: "CLOUD_KEY" });
  const config = {
    routes: { default: ["limited", "healthy"], tools: ["tools"], limited: ["limited"] },
    model_aliases: { "claude-*": "default" },
    providers: { limited: cloud("limited"), healthy: cloud("healthy"), tools: cloud("tools") },
  };
  edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: KEY, CLOUD_KEY: "sk-cloud" } });
});

afterAll(async () => {
  await edge?.stop();
  await fake?.close();
});

const anthropic = (apiKey = KEY) => new Anthropic({ baseURL: edge.url, apiKey, maxRetries: 0 });
const weather = { name: "get_weather", description: "Weather for a city", input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] } };

describe("official Anthropic SDK", () => {
  it("messages.create on a claude-* name fails over from a 429 and answers a message", async () => {
    const { data, response } = await anthropic().messages.create({ model: "claude-sonnet-4-5", max_tokens: 50, system: "Be brief", messages: [{ role: "user", content: "Hello" }] }).withResponse();
    expect(response.headers.get("x-inferrouter-provider")).toBe("healthy");
    expect(data).toMatchObject({ type: "message", role: "assistant", model: "default", stop_reason: "end_turn", content: [{ type: "text", text: "Hello from healthy" }], usage: { input_tokens: 7, output_tokens: 3 } });
    expect(data.id).toMatch(/^msg_/);
    const events = edge.events().filter((e) => e.request_id === response.headers.get("request-id"));
    expect(events.map((e) => `${e.event}:${e.provider ?? ""}`)).toEqual(["infer_started:", "infer_fallback:limited", "infer_completed:healthy"]);
    expect(events[0]).toMatchObject({ endpoint: "messages", api: "anthropic" });
    expect(events.at(-1)).toMatchObject({ api: "anthropic" });
  });

  it("messages.stream gives the text as it comes and the final message", async () => {
    const stream = anthropic().messages.stream({ model: "default", max_tokens: 50, messages: [{ role: "user", content: "Hello" }] });
    const texts: string[] = [];
    stream.on("text", (text) => texts.push(text));
    const message = await stream.finalMessage();
    expect(texts.join("")).toBe("Hello from healthy");
    expect(message).toMatchObject({ stop_reason: "end_turn", content: [{ type: "text", text: "Hello from healthy" }] });
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it("gets tool_use blocks, as JSON and streamed, and sends the tool_result back", async () => {
    const first = await anthropic().messages.create({ model: "tools", max_tokens: 50, tools: [weather], messages: [{ role: "user", content: "Weather in Paris?" }] });
    expect(first.stop_reason).toBe("tool_use");
    expect(first.content).toEqual([{ type: "tool_use", id: "call_w", name: "get_weather", input: { city: "Paris" } }]);
    const streamed = await anthropic().messages.stream({ model: "tools", max_tokens: 50, tools: [weather], messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: first.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_w", content: "18C and sunny" }, { type: "text", text: "And Rome?" }] },
    ] }).finalMessage();
    expect(streamed.stop_reason).toBe("tool_use");
    expect(streamed.content).toEqual([{ type: "tool_use", id: "call_s", name: "get_weather", input: { city: "Rome" } }]);
    const calls = (await (await fetch(`${fake.url}/_calls/tools`)).json()) as Array<{ body: { messages: unknown[] } }>;
    expect(calls[1]!.body.messages).toEqual([
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_w", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "call_w", content: "18C and sunny" },
      { role: "user", content: "And Rome?" },
    ]);
  });

  it("raises the SDK's typed errors, with the request id", async () => {
    const limited = await anthropic().messages.create({ model: "limited", max_tokens: 5, messages: [{ role: "user", content: "Hi" }] }).catch((error: unknown) => error);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).headers.get("retry-after")).toBe("30");
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).requestID).toBeTruthy();
    expect((limited as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
    await expect(anthropic("sk-wrong-key").messages.create({ model: "default", max_tokens: 5, messages: [{ role: "user", content: "Hi" }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    const bad = await anthropic().messages.create({ model: "default", max_tokens: 5, messages: [{ role: "user", content: "Hi" }], tools: [{ type: "web_search_20250305", name: "web_search" }] }).catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect((bad as Error).message).toContain("web_search_20250305");
  });

  it("countTokens and models.list", async () => {
    const count = await anthropic().messages.countTokens({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "Hello there, how are you?" }] });
    expect(count.input_tokens).toBeGreaterThan(0);
    const ids: string[] = [];
    for await (const model of anthropic().models.list()) ids.push(model.id);
    expect(ids).toEqual(["default", "tools", "limited"]);
  });
});
