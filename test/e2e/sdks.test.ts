// Real clients against the whole system: wrangler dev in front, scripted cloud providers, and the
// sidecar with the tiny model as the last resort. The official openai SDK and the Vercel AI SDK.
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, jsonSchema, Output, streamText, tool } from "ai";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeProvider, type FakeProvider } from "../support/fake-provider.ts";
import { startSidecarProcess, type SidecarProcess } from "../support/sidecar-process.ts";
import { startWranglerDev, type WranglerDev } from "../support/wrangler-dev.ts";

const KEY = "sk-e2e-sdks";
let fake: FakeProvider;
let sidecar: SidecarProcess;
let edge: WranglerDev;

beforeAll(async () => {
  fake = await startFakeProvider();
  sidecar = await startSidecarProcess({ parallel: 2 });
  const cloud = (id: string) => ({ type: "openai_compatible", base_url: `${fake.url}/s/${id}/v1`, model: `cloud-${id}`, api_key_secret: "CLOUD_KEY" });
  for (const [id, steps] of [
    ["limited", [{ type: "json", status: 429, headers: { "retry-after": "30" }, body: { error: { message: "Rate limit reached", type: "rate_limit_error" } } }]],
    ["down", [{ type: "json", status: 503, body: { error: { message: "overloaded" } } }]],
  ] as const) {
    await fetch(`${fake.url}/_script/${id}`, { method: "POST", body: JSON.stringify({ steps }) });
  }
  const config = {
    routes: { default: ["limited", "down", "local"], cloud: ["healthy"], limited: ["limited"] },
    providers: {
      limited: cloud("limited"),
      // No retry and no circuit: every request meets its 503 and fails over (these tests are about failover).
      down: { ...cloud("down"), retries: 0, breaker_failures: 1000 },
      healthy: cloud("healthy"),
      local: { type: "local_gguf", base_url: `${sidecar.url}/v1`, model: "tiny", api_key_secret: "SIDECAR_TOKEN" },
    },
  };
  edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: KEY, CLOUD_KEY: "sk-cloud", SIDECAR_TOKEN: sidecar.token } });
});

afterAll(async () => {
  await edge?.stop();
  await sidecar?.stop();
  await fake?.close();
});

// temperature 0 where a test counts tokens: greedy decoding never ends the tiny model's answer early.
const openai = (apiKey = KEY) => new OpenAI({ baseURL: `${edge.url}/v1`, apiKey, maxRetries: 0 });
const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
};

describe("official openai SDK", () => {
  it("fails over across cloud providers into the sidecar, with usage", async () => {
    const { data, response } = await openai()
      .chat.completions.create({ model: "default", max_tokens: 12, temperature: 0, messages: [{ role: "user", content: "Hello" }] })
      .withResponse();
    expect(response.headers.get("x-inferrouter-provider")).toBe("local");
    expect(response.headers.get("x-inferrouter-attempts")).toBe("3");
    expect(data.object).toBe("chat.completion");
    expect(data.choices[0]!.finish_reason).toBe("length");
    expect(data.usage?.completion_tokens).toBe(12);
    const events = edge.events().filter((e) => e.request_id === response.headers.get("x-request-id"));
    expect(events.map((e) => `${e.event}:${e.provider ?? ""}`)).toEqual(["infer_started:", "infer_fallback:limited", "infer_fallback:down", "infer_completed:local"]);
  });

  it("streams from the sidecar, with the usage chunk only when asked for", async () => {
    const stream = await openai().chat.completions.create({ model: "default", stream: true, stream_options: { include_usage: true }, max_tokens: 10, temperature: 0, messages: [{ role: "user", content: "Hi" }] });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage?.completion_tokens).toBe(10);
    const plain = await openai().chat.completions.create({ model: "default", stream: true, max_tokens: 5, messages: [{ role: "user", content: "Hi" }] });
    const plainChunks = [];
    for await (const chunk of plain) plainChunks.push(chunk);
    expect(plainChunks.every((c) => c.choices.length === 1)).toBe(true);
  });

  it("gets tool calls back for the client to run", async () => {
    const data = await openai().chat.completions.create({ model: "default", tools: [weatherTool], tool_choice: "required", messages: [{ role: "user", content: "Weather in Paris?" }] });
    expect(data.choices[0]!.finish_reason).toBe("tool_calls");
    const call = data.choices[0]!.message.tool_calls![0]!;
    expect(call.type).toBe("function");
    if (call.type !== "function") throw new Error("expected a function call");
    expect(call.function.name).toBe("get_weather");
    expect(typeof JSON.parse(call.function.arguments).city).toBe("string");
  });

  it("gets an answer that matches a json_schema", async () => {
    const schema = { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } }, required: ["name", "age"], additionalProperties: false };
    const data = await openai().chat.completions.create({
      model: "default",
      response_format: { type: "json_schema", json_schema: { name: "person", schema, strict: true } },
      messages: [{ role: "user", content: "A person" }],
    });
    const person = JSON.parse(data.choices[0]!.message.content!);
    expect(typeof person.name).toBe("string");
    expect(Number.isInteger(person.age)).toBe(true);
  });

  it("throws the SDK's own error classes for 401, 404 and 429", async () => {
    const message = { messages: [{ role: "user" as const, content: "Hi" }] };
    await expect(openai("sk-wrong").chat.completions.create({ model: "default", ...message })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(openai().chat.completions.create({ model: "no-such-model", ...message })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const limited = openai().chat.completions.create({ model: "limited", ...message });
    await expect(limited).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(limited).rejects.toMatchObject({ code: "all_providers_rate_limited" });
  });

  it("lists the routes as models", async () => {
    const models = await openai().models.list();
    expect(models.data.map((m) => m.id).sort()).toEqual(["cloud", "default", "limited"]);
  });
});

describe("Vercel AI SDK (openai-compatible provider)", () => {
  const provider = () => createOpenAICompatible({ name: "inferrouter", baseURL: `${edge.url}/v1`, apiKey: KEY, includeUsage: true, supportsStructuredOutputs: true });

  it("generates and streams text from a cloud provider", async () => {
    const { text, usage } = await generateText({ model: provider()("cloud"), prompt: "Hi", maxRetries: 0 });
    expect(text).toBe("Hello from healthy");
    expect(usage.totalTokens).toBe(10);
    const result = streamText({ model: provider()("cloud"), prompt: "Hi", maxRetries: 0 });
    let streamed = "";
    for await (const part of result.textStream) streamed += part;
    expect(streamed).toBe("Hello from healthy");
    expect((await result.usage).outputTokens).toBe(3);
  });

  it("gets a tool call from the sidecar through failover", async () => {
    const { toolCalls, finishReason } = await generateText({
      model: provider()("default"),
      prompt: "Weather in Paris?",
      tools: { get_weather: tool({ description: "Weather for a city", inputSchema: jsonSchema<{ city: string }>(weatherTool.function.parameters as never) }) },
      toolChoice: "required",
      maxRetries: 0,
    });
    expect(finishReason).toBe("tool-calls");
    expect(toolCalls[0]!.toolName).toBe("get_weather");
    expect(typeof (toolCalls[0]!.input as { city: unknown }).city).toBe("string");
  });

  it("gets structured output that matches its schema", async () => {
    const { output } = await generateText({
      model: provider()("default"),
      prompt: "A colour",
      output: Output.object({ schema: jsonSchema<{ colour: string }>({ type: "object", properties: { colour: { type: "string" } }, required: ["colour"], additionalProperties: false }) }),
      maxRetries: 0,
    });
    expect(typeof output.colour).toBe("string");
  });
});
