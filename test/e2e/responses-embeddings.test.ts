// The official openai SDK against wrangler dev for the rest of the OpenAI surface: the Responses
// API (JSON, stream, a function tool round trip, json_schema, failover, a mid-stream cut),
// embeddings (base64 and float, arrays, failover within one space, the sidecar's real vectors),
// models.retrieve, and CORS. The log invariant holds throughout.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { completion, embeddingVector, type Step } from "../support/fake-provider-protocol.ts";
import { startFakeProvider, type FakeProvider } from "../support/fake-provider.ts";
import { writeTinyLlamaGguf } from "../../scripts/gguf/tiny-llama.ts";
import { startSidecarProcess, type SidecarProcess } from "../support/sidecar-process.ts";
import { startWranglerDev, type WranglerDev } from "../support/wrangler-dev.ts";

const KEY = "sk-e2e-surface";
const APP = "https://app.example";
let fake: FakeProvider;
let sidecar: SidecarProcess;
let edge: WranglerDev;

async function script(id: string, steps: Step[]) {
  await fetch(`${fake.url}/_script/${id}`, { method: "POST", body: JSON.stringify({ steps }) });
}
const calls = async (id: string) => (await (await fetch(`${fake.url}/_calls/${id}`)).json()) as Array<{ body: Record<string, any> }>;

beforeAll(async () => {
  fake = await startFakeProvider();
  const modelPath = join(await mkdtemp(join(tmpdir(), "inferrouter-e2e-embed-")), "tiny.gguf");
  await writeTinyLlamaGguf(modelPath);
  sidecar = await startSidecarProcess({ modelPath, args: ["--embedding-model", modelPath, "--threads", "1", "--context-size", "1024"] });
  const cloud = (id: string, extra: Record<string, unknown> = {}) => ({ type: "openai_compatible", base_url: `${fake.url}/s/${id}/v1`, model: `cloud-${id}`, api_key_secret: "CLOUD_KEY", ...extra });
  const embedder = (id: string, space = "fake-embed@4") => cloud(id, { endpoint: "embeddings", embedding_space: space });
  const config = {
    cors_origins: [APP],
    routes: {
      default: ["limited", "healthy"],
      tools: ["tools"],
      cut: ["cut"],
      local: ["local"],
      vectors: ["vdown", "vup"],
      "local-vectors": ["local-embed"],
    },
    providers: {
      limited: cloud("limited"),
      healthy: cloud("healthy"),
      tools: cloud("tools"),
      cut: cloud("cut"),
      local: { type: "local_gguf", base_url: `${sidecar.url}/v1`, model: "tiny", api_key_secret: "SIDECAR_TOKEN" },
      vdown: embedder("vdown"),
      vup: embedder("vup"),
      "local-embed": { type: "local_gguf", base_url: `${sidecar.url}/v1`, model: "tiny", api_key_secret: "SIDECAR_TOKEN", endpoint: "embeddings", embedding_space: "tiny@64" },
    },
  };
  edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: KEY, CLOUD_KEY: "sk-cloud", SIDECAR_TOKEN: sidecar.token } });
});

afterAll(async () => {
  await edge?.stop();
  await sidecar?.stop();
  await fake?.close();
});

const openai = () => new OpenAI({ baseURL: `${edge.url}/v1`, apiKey: KEY, maxRetries: 0 });
const limited: Step = { type: "json", status: 429, headers: { "retry-after": "30" }, body: { error: { message: "Rate limit reached" } } };

describe("Responses API through the openai SDK", () => {
  it("answers JSON after failing over from a 429", async () => {
    await script("limited", [limited]);
    await script("healthy", []);
    const { data, response } = await openai().responses.create({ model: "default", instructions: "Be brief", input: "Hello" }).withResponse();
    expect(response.headers.get("x-inferrouter-provider")).toBe("healthy");
    expect(data).toMatchObject({ object: "response", status: "completed", output_text: "Hello from healthy", usage: { input_tokens: 7, output_tokens: 3 } });
  });

  it("streams events the SDK accumulates into the final response, after failing over", async () => {
    await script("limited", [limited]);
    const types: string[] = [];
    for await (const event of await openai().responses.create({ model: "default", input: "Hello", stream: true })) types.push(event.type);
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(types).toContain("response.output_text.delta");
    const final = await openai().responses.stream({ model: "default", input: "Hello" }).finalResponse();
    expect(final.output_text).toBe("Hello from healthy");
    expect(final.status).toBe("completed");
  });

  it("round-trips a function tool: function_call out, function_call_output back in", async () => {
    const toolCall = { id: "call_abc", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } };
    const first = completion("cloud-tools", "");
    first.choices[0] = { ...first.choices[0]!, message: { role: "assistant", content: null as never, refusal: null, tool_calls: [toolCall] } as never, finish_reason: "tool_calls" };
    await script("tools", [{ type: "json", body: first }, { type: "json", content: "It is 21 C in Paris" }]);
    const tools = [{ type: "function" as const, name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }, strict: false }];
    const input: OpenAI.Responses.ResponseInput = [{ role: "user", content: "Weather in Paris?" }];
    const asked = await openai().responses.create({ model: "tools", input, tools });
    const call = asked.output.find((item) => item.type === "function_call");
    expect(call).toMatchObject({ type: "function_call", call_id: "call_abc", name: "get_weather", arguments: '{"city":"Paris"}' });
    if (call?.type !== "function_call") throw new Error("expected a function call");
    const answered = await openai().responses.create({
      model: "tools",
      tools,
      input: [...input, ...(asked.output as OpenAI.Responses.ResponseInputItem[]), { type: "function_call_output", call_id: call.call_id, output: '{"temp":21}' }],
    });
    expect(answered.output_text).toBe("It is 21 C in Paris");
    const [, second] = await calls("tools");
    expect(second!.body.messages).toEqual([
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [toolCall] },
      { role: "tool", tool_call_id: "call_abc", content: '{"temp":21}' },
    ]);
    expect(second!.body.tools[0]).toEqual({ type: "function", function: { name: "get_weather", description: "Weather for a city", parameters: tools[0]!.parameters, strict: false } });
  });

  it("enforces a json_schema text format (the sidecar's grammar, through the translation)", async () => {
    // The tiny model's text is random: a bounded name keeps its answer inside the output budget.
    const schema = { type: "object", properties: { name: { type: "string", maxLength: 16 }, age: { type: "integer" } }, required: ["name", "age"], additionalProperties: false };
    const data = await openai().responses.create({ model: "local", input: "A person", text: { format: { type: "json_schema", name: "person", schema, strict: true } } });
    expect(data.status).toBe("completed");
    const person = JSON.parse(data.output_text);
    expect(typeof person.name).toBe("string");
    expect(Number.isInteger(person.age)).toBe(true);
  });

  it("ends a stream cut after the first content with response.failed, which the SDK throws on", async () => {
    const base = { id: "c", object: "chat.completion.chunk", created: 1, model: "m" };
    await script("cut", [{ type: "sse", events: [{ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "Hel" }, finish_reason: null }] }], end: "reset" }]);
    const types: string[] = [];
    const reading = (async () => {
      for await (const event of await openai().responses.create({ model: "cut", input: "Hello", stream: true })) types.push(event.type);
    })();
    await expect(reading).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(types.at(-1)).toBe("response.failed");
    expect(types).not.toContain("response.completed");
  });

  it("refuses previous_response_id with a 400 naming it", async () => {
    await expect(openai().responses.create({ model: "default", input: "x", previous_response_id: "resp_1" })).rejects.toMatchObject({ status: 400, param: "previous_response_id" });
  });
});

describe("embeddings through the openai SDK", () => {
  it("decodes the SDK's default base64 and floats to the same vectors, for arrays of inputs, failing over within one space", async () => {
    await script("vdown", [{ type: "json", status: 503, body: { error: { message: "overloaded" } } }]);
    await script("vup", []);
    const { data: decoded, response } = await openai().embeddings.create({ model: "vectors", input: ["alpha", "beta"] }).withResponse();
    expect(response.headers.get("x-inferrouter-provider")).toBe("vup");
    const floats = await openai().embeddings.create({ model: "vectors", input: ["alpha", "beta"], encoding_format: "float" });
    expect(floats.data.map((d) => d.embedding)).toEqual([embeddingVector("alpha"), embeddingVector("beta")]);
    expect(decoded.data.map((d) => d.embedding)).toEqual(floats.data.map((d) => d.embedding.map(Math.fround)));
    expect(decoded.usage).toEqual({ prompt_tokens: 6, total_tokens: 6 });
    expect((await calls("vup")).every((c) => c.body.encoding_format === "float")).toBe(true);
  });

  it("gets the sidecar's real vectors from the tiny model, base64 and float alike", async () => {
    const floats = await openai().embeddings.create({ model: "local-vectors", input: "hello world", encoding_format: "float" });
    const decoded = await openai().embeddings.create({ model: "local-vectors", input: "hello world" });
    expect(floats.data[0]!.embedding.length).toBeGreaterThan(8);
    expect(Math.hypot(...floats.data[0]!.embedding)).toBeCloseTo(1, 4);
    decoded.data[0]!.embedding.forEach((value, i) => expect(value).toBeCloseTo(floats.data[0]!.embedding[i]!, 5));
    expect(floats.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it("refuses a chat route with a 400 naming the model, and an embeddings route on the chat endpoints", async () => {
    await expect(openai().embeddings.create({ model: "default", input: "x" })).rejects.toMatchObject({ status: 400, param: "model", code: "wrong_endpoint" });
    const wrong = { status: 400, param: "model", code: "wrong_endpoint", message: expect.stringContaining("is an embeddings route") };
    await expect(openai().chat.completions.create({ model: "vectors", messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject(wrong);
    await expect(openai().responses.create({ model: "vectors", input: "hi" })).rejects.toMatchObject(wrong);
  });

  it("passes on the sidecar's 400 for a token id outside the vocabulary, and the sidecar keeps serving", async () => {
    await expect(openai().embeddings.create({ model: "local-vectors", input: [999_999] })).rejects.toMatchObject({ status: 400 });
    await expect(openai().embeddings.create({ model: "local-vectors", input: "" })).rejects.toMatchObject({ status: 400 });
    const after = await openai().embeddings.create({ model: "local-vectors", input: [[1, 2, 3]], encoding_format: "float" });
    expect(after.data[0]!.embedding.length).toBeGreaterThan(8);
  });
});

describe("models and browsers", () => {
  it("retrieves a route as a model, and 404s an unknown one", async () => {
    expect(await openai().models.retrieve("vectors")).toMatchObject({ id: "vectors", object: "model" });
    await expect(openai().models.retrieve("gpt-nope")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("answers a CORS preflight and a cross-origin request from an allowed origin", async () => {
    const preflight = await fetch(`${edge.url}/v1/responses`, {
      method: "OPTIONS",
      headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(APP);
    expect(preflight.headers.get("access-control-allow-headers")).toBe("authorization,content-type");
    const res = await fetch(`${edge.url}/v1/models`, { headers: { origin: APP, authorization: `Bearer ${KEY}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
  });

  it("logged one terminal event per started request, naming the endpoint", () => {
    const events = edge.events();
    const started = events.filter((e) => e.event === "infer_started");
    // chat: the embeddings route refused on /v1/chat/completions.
    expect(new Set(started.map((e) => e.endpoint))).toEqual(new Set(["responses", "embeddings", "chat"]));
    for (const start of started) {
      const terminal = events.filter((e) => e.request_id === start.request_id && ["infer_completed", "infer_failed", "infer_cancelled"].includes(String(e.event)));
      expect(terminal, String(start.request_id)).toHaveLength(1);
    }
  });
});
