import { describe, expect, it } from "vitest";
import { call, chainConfig, chat, CLIENT_KEY, provider, scenario, settled } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();

type ErrorBody = { error: { message: string; type: string; param: string | null; code: string | null } };

async function expectError(res: Response, status: number, match: Partial<ErrorBody["error"]>) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as ErrorBody;
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.error).toMatchObject(match);
  return body.error;
}

async function healthyConfig() {
  const a = await scenario();
  return { a, config: chainConfig({ a: provider(a.baseUrl) }) };
}

describe("client auth", () => {
  it("rejects a request without a key with 401 invalid_api_key and never calls upstream", async () => {
    const { a, config } = await healthyConfig();
    const res = await call({ config, headers: { authorization: "" } });
    await expectError(res, 401, { type: "invalid_request_error", code: "invalid_api_key" });
    expect(await a.calls()).toHaveLength(0);
  });

  it("rejects a wrong key and a non-Bearer scheme with 401", async () => {
    const { config } = await healthyConfig();
    await expectError(await call({ config, headers: { authorization: "Bearer sk-wrong" } }), 401, { code: "invalid_api_key" });
    await expectError(await call({ config, headers: { authorization: `Basic ${CLIENT_KEY}` } }), 401, { code: "invalid_api_key" });
  });

  it("accepts every key of the comma-separated list, never forwards it, never logs it", async () => {
    const { a, config } = await healthyConfig();
    const res = await call({ config, headers: { authorization: "Bearer sk-test-client-2" } });
    expect(res.status).toBe(200);
    const [upstream] = await a.calls();
    expect(JSON.stringify(upstream!.headers)).not.toContain("sk-test-client");
    const started = logs.events().find((e) => e.event === "infer_started");
    expect(started?.client).toMatch(/^key:[0-9a-f]{8}$/);
    expect(JSON.stringify(logs.events())).not.toContain("sk-test-client");
  });

  it("refuses every request with a clear 500 when no keys are configured", async () => {
    const { config } = await healthyConfig();
    const error = await expectError(await call({ config, env: { PROXY_API_KEYS: "" } }), 500, { code: "auth_not_configured" });
    expect(error.message).toContain("PROXY_API_KEYS");
  });

  it('lets requests through without a key when the config says auth = "none"', async () => {
    const a = await scenario();
    const config = { ...chainConfig({ a: provider(a.baseUrl) }), auth: "none" };
    const res = await call({ config, headers: { authorization: "" }, env: { PROXY_API_KEYS: "" } });
    expect(res.status).toBe(200);
  });
});

describe("provider keys", () => {
  it("reads a key from a Secrets Store binding (an object with get()) at request time", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { api_key_secret: "STORE_KEY" }) });
    const binding = { get: async () => "sk-from-secrets-store" };
    expect((await call({ config, env: { STORE_KEY: binding } })).status).toBe(200);
    expect((await a.calls())[0]!.headers.authorization).toBe("Bearer sk-from-secrets-store");
  });
});

describe("request validation", () => {
  it("rejects malformed JSON with 400", async () => {
    const { config } = await healthyConfig();
    await expectError(await call({ config, rawBody: '{"model": "default", "messages": [' }), 400, { type: "invalid_request_error" });
  });

  it.each([
    ["missing messages", { model: "default" }, "messages"],
    ["missing model", { messages: [{ role: "user", content: "hi" }] }, "model"],
    ["a wrong type", chat({ temperature: "hot" }), "temperature"],
    ["a bad role", { model: "default", messages: [{ role: "wizard", content: "hi" }] }, "messages[0].role"],
    ["a bad stream flag", chat({ stream: "yes" }), "stream"],
  ])("names the field for %s", async (_name, body, param) => {
    const { a, config } = await healthyConfig();
    const error = await expectError(await call({ config, body }), 400, { param });
    expect(error.message).toContain(param);
    expect(await a.calls()).toHaveLength(0);
  });

  it("asks for JSON when the content type is not JSON", async () => {
    const { config } = await healthyConfig();
    await expectError(await call({ config, headers: { "content-type": "text/plain" } }), 400, { code: "invalid_content_type" });
  });

  it("rejects a body over the configured limit with 413", async () => {
    const a = await scenario();
    const config = { ...chainConfig({ a: provider(a.baseUrl) }), max_body_bytes: 1024 };
    const body = chat({ messages: [{ role: "user", content: "x".repeat(4096) }] });
    const error = await expectError(await call({ config, body }), 413, { code: "request_too_large" });
    expect(error.message).toContain("max_body_bytes (1024 bytes)");
    expect(await a.calls()).toHaveLength(0);
  });

  it("passes unknown fields, tools and response_format to the provider untouched", async () => {
    const { a, config } = await healthyConfig();
    const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: {} } } }];
    const extra = { vendor_extension: { reasoning: { effort: "low" } }, tools, response_format: { type: "json_object" }, metadata: { a: "b" } };
    expect((await call({ config, body: chat(extra) })).status).toBe(200);
    const [upstream] = await a.calls();
    expect(upstream!.body).toMatchObject({ ...extra, model: "upstream-model", messages: [{ role: "user", content: "Say hello" }] });
  });
});

describe("routes and models", () => {
  it("sends an unknown model to the default route", async () => {
    const { a, config } = await healthyConfig();
    const res = await call({ config: { ...config, default_route: "default" }, body: chat({ model: "gpt-4o" }) });
    expect(res.status).toBe(200);
    expect(await a.calls()).toHaveLength(1);
    expect(logs.events().find((e) => e.event === "infer_started")?.route).toBe("default");
  });

  it("answers 404 model_not_found for an unknown model without a default route", async () => {
    const { config } = await healthyConfig();
    await expectError(await call({ config, body: chat({ model: "gpt-4o" }) }), 404, { code: "model_not_found", param: "model" });
  });

  it("treats model names that are Object builtins as unknown models, not routes", async () => {
    const { a, config } = await healthyConfig();
    for (const model of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      await expectError(await call({ config, body: chat({ model }) }), 404, { code: "model_not_found" });
      expect((await call({ config: { ...config, default_route: "default" }, body: chat({ model }) })).status).toBe(200);
    }
    expect(await a.calls()).toHaveLength(4);
  });

  it("routes by model alias to that route's chain", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = { routes: { default: ["a"], fast: ["b"] }, providers: { a: provider(a.baseUrl), b: provider(b.baseUrl) } };
    const res = await call({ config, body: chat({ model: "fast" }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
  });

  it("lists the routes as OpenAI model objects", async () => {
    const a = await scenario();
    const config = { routes: { default: ["a"], fast: ["a"] }, providers: { a: provider(a.baseUrl) } };
    const res = await call({ config, method: "GET", path: "/v1/models" });
    expect(res.status).toBe(200);
    const list = (await res.json()) as { object: string; data: Array<{ id: string; object: string; created: number; owned_by: string }> };
    expect(list.object).toBe("list");
    expect(list.data.map((m) => m.id)).toEqual(["default", "fast"]);
    expect(list.data[0]).toMatchObject({ object: "model", owned_by: "inferrouter" });
    expect(typeof list.data[0]!.created).toBe("number");
  });

  it("needs a client key for /v1/models", async () => {
    const { config } = await healthyConfig();
    await expectError(await call({ config, method: "GET", path: "/v1/models", headers: { authorization: "" } }), 401, { code: "invalid_api_key" });
  });

  it("answers /health without a key", async () => {
    const { config } = await healthyConfig();
    const res = await call({ config, method: "GET", path: "/health", headers: { authorization: "" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", routes: ["default"], providers: ["a"] });
  });

  it("answers unknown paths with an OpenAI-shaped 404", async () => {
    const { config } = await healthyConfig();
    const res = await call({ config, method: "GET", path: "/v1/embeddingz" });
    expect(res.headers.get("x-request-id")).toBeTruthy();
    await expectError(res, 404, { code: "unknown_url" });
  });

  it("answers a wrong method on an API path with 405 and allow, calling no provider", async () => {
    const { a, config } = await healthyConfig();
    for (const [method, path, allow] of [
      ["GET", "/v1/chat/completions", "POST"],
      ["PUT", "/v1/embeddings", "POST"],
      ["POST", "/v1/models", "GET, HEAD"],
      ["DELETE", "/v1/models/default", "GET, HEAD"],
      ["POST", "/v1/quota", "GET, HEAD"],
      ["POST", "/health", "GET, HEAD"],
    ] as const) {
      const res = await call({ config, method, path, body: method === "GET" ? undefined : chat() });
      expect(res.headers.get("allow"), `${method} ${path}`).toBe(allow);
      const error = await expectError(res, 405, { code: "method_not_allowed", type: "invalid_request_error" });
      expect(error.message).toBe(`${method} is not allowed on ${path}: use ${allow}`);
    }
    expect((await call({ config, method: "GET", path: "/v1/models" })).status).toBe(200);
    expect(await a.calls()).toHaveLength(0);
  });
});

describe("config errors", () => {
  const ADMIN = { authorization: "Bearer sk-test-admin" };
  const INVALID = "The router's config is invalid: send an admin key (ADMIN_API_KEYS) to see why, or run npm run check-config";

  it("answers every request with 500 invalid_config; only an admin key sees the bad paths", async () => {
    const config = { routes: { default: ["ghost"] }, providers: { a: { type: "openai_compatible", base_url: "not a url", model: "m" } } };
    const error = await expectError(await call({ config, headers: ADMIN }), 500, { code: "invalid_config" });
    expect(error.message).toContain("providers.a.base_url");
    expect(error.message).toContain("routes.default[0]");
    for (const headers of [{}, { authorization: "" }, { authorization: "Bearer sk-wrong" }] as Record<string, string>[]) {
      const hidden = await expectError(await call({ config, headers }), 500, { code: "invalid_config", type: "server_error" });
      expect(hidden.message).toBe(INVALID);
    }
    // /health says only that the config is invalid, unless the admin key asks.
    expect((await expectError(await call({ config, method: "GET", path: "/health", headers: { authorization: "" } }), 500, { code: "invalid_config" })).message).toBe(INVALID);
    expect((await expectError(await call({ config, method: "GET", path: "/health", headers: ADMIN }), 500, { code: "invalid_config" })).message).toContain("routes.default[0]");
  });

  it("rejects routes that name Object builtins as providers", async () => {
    const config = { routes: { default: ["toString"] }, default_route: "constructor", providers: {} };
    const error = await expectError(await call({ config, headers: ADMIN }), 500, { code: "invalid_config" });
    expect(error.message).toContain('unknown provider "toString"');
    expect(error.message).toContain('no route named "constructor"');
  });

  it("accepts the config as a JSON string (wrangler dev --var)", async () => {
    const { config } = await healthyConfig();
    expect((await call({ config: JSON.stringify(config) })).status).toBe(200);
  });

  it("reports a JSON string that does not parse", async () => {
    const error = await expectError(await call({ config: "{not json", headers: ADMIN }), 500, { code: "invalid_config" });
    expect(error.message).toContain("not valid JSON");
  });
});

describe("headers and usage", () => {
  it("echoes the client's x-request-id on success and on errors", async () => {
    const { config } = await healthyConfig();
    const ok = await call({ config, headers: { "x-request-id": "client-req-42" } });
    expect(ok.headers.get("x-request-id")).toBe("client-req-42");
    const bad = await call({ config, headers: { "x-request-id": "client-req-43", authorization: "" } });
    expect(bad.headers.get("x-request-id")).toBe("client-req-43");
    expect(logs.events().filter((e) => e.request_id === "client-req-42").map((e) => e.event)).toEqual(["infer_started", "infer_completed"]);
  });

  it("always asks upstream for stream usage, and drops the usage chunk when the client did not ask", async () => {
    const { a, config } = await healthyConfig();
    const res = await call({ config, body: chat({ stream: true }) });
    const text = await res.text();
    expect(text).not.toContain('"choices":[]');
    const [upstream] = await a.calls();
    expect(upstream!.body.stream_options).toEqual({ include_usage: true });
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ completion_tokens: 3, stream: true, finish_reason: "stop" });
  });

  it("passes the usage chunk through when the client asked for it", async () => {
    const { config } = await healthyConfig();
    const res = await call({ config, body: chat({ stream: true, stream_options: { include_usage: true } }) });
    const frames = (await res.text()).split("\n\n").filter(Boolean);
    const usage = JSON.parse(frames.at(-2)!.slice(6)) as { choices: unknown[]; usage: { total_tokens: number } };
    expect(usage.choices).toEqual([]);
    expect(usage.usage.total_tokens).toBe(10);
    expect(frames.at(-1)).toBe("data: [DONE]");
  });

  it("passes keep-alive comments through and drops event-only frames", async () => {
    const a = await scenario([{ type: "sse", prelude: ": keep-alive\n\nevent: ping\n\n" }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true }) });
    const text = await res.text();
    expect(text.startsWith(": keep-alive\n\n")).toBe(true);
    expect(text).not.toContain("event: ping");
  });
});

describe("client disconnects", () => {
  it("stops the upstream call and logs infer_cancelled when the client aborts", async () => {
    const a = await scenario([{ type: "hang" }]);
    const controller = new AbortController();
    const pending = call({ config: chainConfig({ a: provider(a.baseUrl, { timeout_ms: 10_000 }) }), signal: controller.signal });
    await a.waitForCalls(1);
    controller.abort();
    const res = await pending;
    expect(res.status).toBe(499);
    expect(logs.events().find((e) => e.event === "infer_cancelled")).toMatchObject({ provider: "a" });
    const [upstream] = await a.calls();
    expect(upstream!.abandoned).toBe(true);
  });

  it("logs infer_cancelled, not a failure, when the client's connection goes away mid-stream", async () => {
    const a = await scenario([{ type: "sse", content: "a long answer", end: "hang" }]);
    const controller = new AbortController();
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl, { timeout_ms: 10_000 }) }), body: chat({ stream: true }), signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.read().catch(() => undefined);
    await settled(res);
    expect(logs.events().filter((e) => ["infer_failed", "infer_cancelled"].includes(e.event)).map((e) => e.event)).toEqual(["infer_cancelled"]);
    const [upstream] = await a.calls();
    expect(upstream!.abandoned).toBe(true);
  });

  it("logs infer_cancelled when the client stops reading a stream", async () => {
    const a = await scenario([{ type: "sse", content: "a long answer", end: "hang" }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true }) });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(logs.events().find((e) => e.event === "infer_cancelled")).toMatchObject({ provider: "a", stream: true });
  });
});
