// The official openai SDK (chat completions and the Responses API) and the Anthropic SDK (passed
// through) to `type = "anthropic"` providers: wrangler dev in front, the fake provider speaking the
// Messages wire behind. A chain whose first Claude provider answers Anthropic's 429 fails over to the second.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { anthropicErrorBody, message, messageEvents } from "../support/fake-anthropic-protocol.ts";
import { startFakeProvider, type FakeProvider } from "../support/fake-provider.ts";
import { startWranglerDev, type WranglerDev } from "../support/wrangler-dev.ts";

const KEY = "sk-e2e-anthropic-out";
let fake: FakeProvider;
let edge: WranglerDev;

const toolUse = { type: "tool_use" as const, id: "toolu_01", name: "get_weather", input: { city: "Paris" } };

beforeAll(async () => {
  fake = await startFakeProvider();
  const scripts: Record<string, unknown[]> = {
    limited: [{ type: "json", status: 429, headers: { "retry-after": "30" }, body: anthropicErrorBody("rate_limit_error", "rate limited") }],
    // A tool round trip: the model calls get_weather, then answers with the result (JSON, then the same as a stream).
    tools: [
      { type: "json", body: message("claude-sonnet-4-5", [toolUse], "tool_use") },
      { type: "json", body: message("claude-sonnet-4-5", "It is sunny in Paris.") },
      { type: "sse", events: messageEvents("claude-sonnet-4-5", [toolUse], "tool_use") },
    ],
    bad: [{ type: "json", status: 400, body: anthropicErrorBody("invalid_request_error", "max_tokens: must be at most 8192") }],
  };
  for (const [id, steps] of Object.entries(scripts)) {
    // The tool script's steps run once each; the others repeat their one step.
    await fetch(`${fake.url}/_script/${id}`, { method: "POST", body: JSON.stringify({ steps, after: id === "tools" ? "success" : "repeat_last" }) });
  }
  const claude = (id: string) => ({ type: "anthropic", base_url: `${fake.url}/s/${id}/v1`, model: "claude-sonnet-4-5", api_key_secret: "ANTHROPIC_KEY", retries: 0 });
  const config = {
    routes: { default: ["limited", "healthy"], tools: ["tools"], bad: ["bad"] },
    providers: { limited: claude("limited"), healthy: claude("healthy"), tools: claude("tools"), bad: claude("bad") },
  };
  edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: KEY, ANTHROPIC_KEY: "sk-ant-e2e-upstream" } });
});

afterAll(async () => {
  await edge?.stop();
  await fake?.close();
});

const openai = () => new OpenAI({ baseURL: `${edge.url}/v1`, apiKey: KEY, maxRetries: 0 });
const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
};

describe("openai SDK through an anthropic provider", () => {
  it("fails over from a 429 to the next Claude provider, with usage", async () => {
    const { data, response } = await openai().chat.completions.create({ model: "default", messages: [{ role: "system", content: "Be brief" }, { role: "user", content: "Hello" }] }).withResponse();
    expect(response.headers.get("x-inferrouter-provider")).toBe("healthy");
    expect(data.choices[0]!.message.content).toBe("Hello from healthy");
    expect(data.choices[0]!.finish_reason).toBe("stop");
    expect(data.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
  });

  it("streams text with the usage chunk", async () => {
    const stream = await openai().chat.completions.create({ model: "default", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Hi" }] });
    let text = "";
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? "";
    }
    expect(text).toBe("Hello from healthy");
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]!.finish_reason).toBe("stop");
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 3 });
  });

  it("gets a tool call, sends the result back as a tool message, and gets the answer; then streams the call", async () => {
    const asked = await openai().chat.completions.create({ model: "tools", tools: [weatherTool], messages: [{ role: "user", content: "Weather in Paris?" }] });
    expect(asked.choices[0]!.finish_reason).toBe("tool_calls");
    const call = asked.choices[0]!.message.tool_calls![0]!;
    if (call.type !== "function") throw new Error("expected a function call");
    expect(call).toMatchObject({ id: "toolu_01", function: { name: "get_weather" } });
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "Paris" });

    const answered = await openai().chat.completions.create({
      model: "tools",
      tools: [weatherTool],
      messages: [{ role: "user", content: "Weather in Paris?" }, asked.choices[0]!.message, { role: "tool", tool_call_id: call.id, content: "sunny" }],
    });
    expect(answered.choices[0]!.message.content).toBe("It is sunny in Paris.");
    const sent = (await (await fetch(`${fake.url}/_calls/tools`)).json()) as Array<{ body: { messages: unknown[] } }>;
    expect(sent[1]!.body.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather in Paris?" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01", content: [{ type: "text", text: "sunny" }] }] },
    ]);

    const runner = openai().chat.completions.stream({ model: "tools", tools: [weatherTool], messages: [{ role: "user", content: "Weather in Paris?" }] });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
    expect(final.choices[0]!.message.tool_calls![0]).toMatchObject({ id: "toolu_01", function: { name: "get_weather", arguments: '{"city":"Paris"}' } });
  });

  it("answers the Responses API, JSON and streamed", async () => {
    const data = await openai().responses.create({ model: "default", instructions: "Be brief", input: "Hello" });
    expect(data.output_text).toBe("Hello from healthy");
    const final = await openai().responses.stream({ model: "default", input: "Hello" }).finalResponse();
    expect(final.output_text).toBe("Hello from healthy");
    expect(final.usage?.output_tokens).toBe(3);
  });

  it("throws BadRequestError with upstream's message for Anthropic's 400", async () => {
    const failed = openai().chat.completions.create({ model: "bad", messages: [{ role: "user", content: "Hi" }] });
    await expect(failed).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(failed).rejects.toMatchObject({ status: 400, message: expect.stringContaining("max_tokens: must be at most 8192") });
  });
});

describe("Anthropic SDK through an anthropic provider (passed through)", () => {
  const anthropic = () => new Anthropic({ baseURL: edge.url, apiKey: KEY, maxRetries: 0 });

  it("messages.create fails over from Anthropic's 429 and answers the message with usage", async () => {
    const { data, response } = await anthropic().messages.create({ model: "default", max_tokens: 50, messages: [{ role: "user", content: "Hello" }] }).withResponse();
    expect(response.headers.get("x-inferrouter-provider")).toBe("healthy");
    expect(data).toMatchObject({ type: "message", stop_reason: "end_turn", content: [{ type: "text", text: "Hello from healthy" }], usage: { input_tokens: 7, output_tokens: 3 } });
  });

  it("messages.stream gets the text and the final message", async () => {
    const stream = anthropic().messages.stream({ model: "default", max_tokens: 50, messages: [{ role: "user", content: "Hello" }] });
    let text = "";
    stream.on("text", (delta) => (text += delta));
    const final = await stream.finalMessage();
    expect(text).toBe("Hello from healthy");
    expect(final.stop_reason).toBe("end_turn");
    expect(final.usage.output_tokens).toBe(3);
  });

  it("throws BadRequestError for Anthropic's 400", async () => {
    const failed = anthropic().messages.create({ model: "bad", max_tokens: 50, messages: [{ role: "user", content: "Hi" }] });
    await expect(failed).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    await expect(failed).rejects.toMatchObject({ status: 400 });
  });
});
