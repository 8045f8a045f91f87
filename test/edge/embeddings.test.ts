// POST /v1/embeddings through the real Worker: embeddings routes only, floats asked upstream,
// base64 encoded at the edge, failover within one embedding space, usage against token quotas.
import { describe, expect, it } from "vitest";
import { toClientAnswer, toUpstreamRequest } from "../../edge/embeddings/translate.ts";
import { fromBase64, toBase64 } from "../../shared/embedding-vectors.ts";
import { parseRouterConfig } from "../../shared/config.ts";
import { embeddingVector } from "../support/fake-provider-protocol.ts";
import { call, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const SPACE = "fake-embed@4";
const embedder = (baseUrl: string, extra: Record<string, unknown> = {}) => provider(baseUrl, { endpoint: "embeddings", embedding_space: SPACE, ...extra });
const embed = (config: unknown, body: Record<string, unknown>) => call({ config, path: "/v1/embeddings", body: { model: "vectors", ...body } });

interface EmbeddingList {
  object: string;
  data: Array<{ object: string; index: number; embedding: number[] | string }>;
  usage: { prompt_tokens: number; total_tokens: number };
}

describe("POST /v1/embeddings", () => {
  it("answers floats for an array of inputs, asking upstream at {base_url}/embeddings", async () => {
    const a = await scenario();
    const res = await embed({ routes: { vectors: ["a"] }, providers: { a: embedder(a.baseUrl) } }, { input: ["one", "two"], encoding_format: "float", dimensions: 4 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as EmbeddingList;
    expect(body.object).toBe("list");
    expect(body.data).toEqual([
      { object: "embedding", index: 0, embedding: embeddingVector("one") },
      { object: "embedding", index: 1, embedding: embeddingVector("two") },
    ]);
    expect(body.usage).toEqual({ prompt_tokens: 6, total_tokens: 6 });
    const [upstream] = await a.calls();
    expect(upstream!.body).toEqual({ model: "upstream-model", input: ["one", "two"], encoding_format: "float", dimensions: 4 });
    expect(logs.events().find((e) => e.event === "infer_started")).toMatchObject({ endpoint: "embeddings", route: "vectors" });
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ provider: "a", total_tokens: 6 });
  });

  it("encodes base64 itself when asked (upstream is still asked for floats), for token-array input too", async () => {
    const a = await scenario();
    const res = await embed({ routes: { vectors: ["a"] }, providers: { a: embedder(a.baseUrl) } }, { input: [[1, 2, 3]], encoding_format: "base64" });
    const body = (await res.json()) as EmbeddingList;
    const encoded = body.data[0]!.embedding as string;
    expect(typeof encoded).toBe("string");
    expect(fromBase64(encoded)).toEqual(embeddingVector([1, 2, 3]).map((v) => Math.fround(v)));
    expect((await a.calls())[0]!.body.encoding_format).toBe("float");
  });

  it("fails over between two hosts of one embedding space and keeps the vectors", async () => {
    const down = await scenario([{ type: "json", status: 503, body: { error: { message: "overloaded" } } }]);
    const healthy = await scenario();
    const config = { routes: { vectors: ["down", "healthy"] }, providers: { down: embedder(down.baseUrl), healthy: embedder(healthy.baseUrl) } };
    const res = await embed(config, { input: "hello" });
    expect(res.headers.get("x-inferrouter-provider")).toBe("healthy");
    expect(((await res.json()) as EmbeddingList).data[0]!.embedding).toEqual(embeddingVector("hello"));
    expect(logs.events().find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "down", category: "ServerError" });
  });

  it("fails over from a 200 whose data items have no vector, in either encoding, and never answers 500", async () => {
    const malformed = await scenario([{ type: "json", body: { object: "list", data: [{ index: 0 }], model: "m" } }]);
    const healthy = await scenario();
    // A provider id per request: the first one's failures open its circuit.
    const providers = { bad_base64: embedder(malformed.baseUrl), bad_float: embedder(malformed.baseUrl), bad_alone: embedder(malformed.baseUrl), healthy: embedder(healthy.baseUrl) };
    const routes = { base64: ["bad_base64", "healthy"], float: ["bad_float", "healthy"], alone: ["bad_alone"] };
    for (const encoding_format of ["base64", "float"] as const) {
      const res = await embed({ routes, providers }, { model: encoding_format, input: "hello", encoding_format });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-inferrouter-provider")).toBe("healthy");
      const vector = ((await res.json()) as EmbeddingList).data[0]!.embedding;
      const expected = embeddingVector("hello");
      expect(encoding_format === "float" ? vector : fromBase64(vector as string)).toEqual(encoding_format === "float" ? expected : expected.map(Math.fround));
    }
    const alone = await embed({ routes, providers }, { model: "alone", input: "hello" });
    expect(alone.status).toBe(503);
    const events = logs.events();
    expect(events.filter((e) => e.event === "infer_fallback").map((e) => e.provider)).toEqual(["bad_base64", "bad_float", "bad_alone"]);
    for (const event of events.filter((e) => e.provider?.startsWith("bad") && e.category)) {
      expect(event).toMatchObject({ category: "ServerError", message: expect.stringContaining("data[0].embedding") });
    }
    expect(events.filter((e) => e.event === "infer_completed").map((e) => e.provider)).toEqual(["healthy", "healthy"]);
    expect(events.at(-1)).toMatchObject({ event: "infer_failed", route: "alone", status: 503 });
  });

  it("counts the usage against token quotas", async () => {
    const a = await scenario();
    const config = { routes: { vectors: ["a"] }, providers: { a: embedder(a.baseUrl, { tokens_per_day: 5 }) } };
    const first = await embed(config, { input: ["one", "two"] });
    expect(first.status).toBe(200);
    const second = await embed(config, { input: "three" });
    expect(second.status).toBe(429);
    expect(await a.calls()).toHaveLength(1);
    expect(logs.events().find((e) => e.event === "infer_skipped")).toMatchObject({ provider: "a", reason: "tokens" });
  });

  it("refuses a chat route, a stream and bad input with a 400 naming the param", async () => {
    const a = await scenario();
    const config = { routes: { vectors: ["e"], default: ["c"] }, providers: { e: embedder(a.baseUrl), c: provider(a.baseUrl) } };
    for (const [body, param] of [
      [{ model: "default", input: "x" }, "model"],
      [{ input: "x", stream: true }, "stream"],
      [{ input: [] }, "input"],
      [{ input: "x", encoding_format: "int8" }, "encoding_format"],
    ] as const) {
      const res = await embed(config, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
    }
    const chat = await call({ config, body: { model: "vectors", messages: [{ role: "user", content: "hi" }] } });
    expect(chat.status).toBe(400);
    expect(((await chat.json()) as { error: { message: string } }).error.message).toContain('"vectors"');
    expect(logs.events().filter((e) => e.event === "infer_started").at(-1)).toMatchObject({ endpoint: "chat", route: "vectors" });
    expect(await a.calls()).toHaveLength(0);
  });

  it("tells which kind a route of the other endpoint is, and an unknown model is 404 where the default route is of the other kind", async () => {
    const a = await scenario();
    const config = { default_route: "default", routes: { vectors: ["e"], default: ["c"] }, providers: { e: embedder(a.baseUrl), c: provider(a.baseUrl) } };
    const wrong = async (res: Response) => ((await res.json()) as { error: Record<string, unknown> }).error;
    const chatRoute = await embed(config, { model: "default", input: "x" });
    expect(chatRoute.status).toBe(400);
    expect(await wrong(chatRoute)).toMatchObject({ code: "wrong_endpoint", param: "model", message: 'The model "default" is a chat route: use it with /v1/chat/completions or /v1/responses' });
    const embeddingsRoute = await call({ config, body: { model: "vectors", messages: [{ role: "user", content: "hi" }] } });
    expect(embeddingsRoute.status).toBe(400);
    expect(await wrong(embeddingsRoute)).toMatchObject({ code: "wrong_endpoint", param: "model", message: 'The model "vectors" is an embeddings route: use it with /v1/embeddings' });
    const unknown = await embed(config, { model: "text-embedding-3-small", input: "x" });
    expect(unknown.status).toBe(404);
    expect(await wrong(unknown)).toMatchObject({ code: "model_not_found", param: "model", message: expect.stringContaining('"text-embedding-3-small"') });
    // The default route still answers unknown models where it serves the endpoint.
    expect((await call({ config, body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] } })).status).toBe(200);
    expect(await a.calls()).toHaveLength(1);
  });
});

describe("embeddings config", () => {
  const check = (config: unknown) => parseRouterConfig(config);

  it("rejects a route that mixes embedding spaces, or endpoints, naming the path", () => {
    const mixed = check({
      routes: { vectors: ["a", "b"] },
      providers: { a: embedder("https://a.test/v1"), b: embedder("https://b.test/v1", { embedding_space: "other@768" }) },
    });
    expect(mixed.ok).toBe(false);
    expect(!mixed.ok && mixed.message).toContain("routes.vectors[1]");
    expect(!mixed.ok && mixed.message).toContain("other@768");
    const endpoints = check({ routes: { r: ["a", "c"] }, providers: { a: embedder("https://a.test/v1"), c: provider("https://c.test/v1") } });
    expect(!endpoints.ok && endpoints.message).toContain("routes.r[1]");
    const missing = check({ routes: { r: ["a"] }, providers: { a: provider("https://a.test/v1", { endpoint: "embeddings" }) } });
    expect(!missing.ok && missing.message).toContain("providers.a.embedding_space");
    expect(check({ routes: { r: ["a", "b"] }, providers: { a: embedder("https://a.test/v1"), b: embedder("https://b.test/v1") } }).ok).toBe(true);
  });

  it("answers every request with a 500 naming the path while a route mixes spaces", async () => {
    const config = { routes: { vectors: ["a", "b"] }, providers: { a: embedder("https://a.test/v1"), b: embedder("https://b.test/v1", { embedding_space: "other@768" }) } };
    const res = await call({ config, path: "/v1/embeddings", body: { model: "vectors", input: "x" }, headers: { authorization: "Bearer sk-test-admin" } }); // the admin key sees the paths
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "invalid_config", message: expect.stringContaining("routes.vectors[1]") });
  });

  it("gives floats to a float client when a provider answered base64 anyway, and keeps upstream's order", () => {
    const upstream = { data: [{ index: 1, embedding: toBase64([0.25, 0.5]) }, { index: 0, embedding: [1, 2] }], model: "m", usage: { prompt_tokens: 4, total_tokens: 4 } };
    expect(toClientAnswer({ model: "vectors", input: ["a", "b"], encoding_format: "float" }, upstream)).toEqual({
      object: "list",
      data: [{ object: "embedding", index: 1, embedding: [0.25, 0.5] }, { object: "embedding", index: 0, embedding: [1, 2] }],
      model: "m",
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
    expect(toUpstreamRequest({ model: "vectors", input: "a", encoding_format: "base64", dimensions: 8 })).toEqual({ model: "vectors", input: "a", encoding_format: "float", dimensions: 8 });
  });

  it("round-trips base64 as little-endian float32", () => {
    expect(fromBase64(toBase64([0.5, -1, 3.25]))).toEqual([0.5, -1, 3.25]);
    expect(toBase64([1])).toBe("AACAPw==");
  });
});
