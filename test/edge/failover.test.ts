import { describe, expect, it } from "vitest";
import { call, chainConfig, chat, provider, scenario, sseData } from "./harness.ts";

const sseDataOf = (text: string) => sseData(new Response(text));
import { checkLogInvariant } from "./log-invariant.ts";
import { chunks, type Step } from "../support/fake-provider-protocol.ts";
import { inject } from "vitest";

const logs = checkLogInvariant();

/**
 * A chain of a failing provider `a` and a healthy `b`; returns the response and both scenarios.
 * `a` makes no retries here: these tests are about failover (retries.test.ts covers retries).
 */
async function failThenAnswer(failure: Step[], options: { stream?: boolean; aExtra?: Record<string, unknown> } = {}) {
  const a = await scenario(failure);
  const b = await scenario();
  const config = chainConfig({ a: provider(a.baseUrl, { retries: 0, ...options.aExtra }), b: provider(b.baseUrl) });
  const res = await call({ config, body: chat({ stream: options.stream ?? false }) });
  return { res, a, b };
}

function fallbackFor(providerId: string) {
  return logs.events().find((e) => e.event === "infer_fallback" && e.provider === providerId);
}

describe("failover on JSON requests", () => {
  it.each([
    ["429 with retry-after", { type: "json", status: 429, headers: { "retry-after": "7" }, body: { error: { message: "Rate limit reached", type: "rate_limit_error", code: "rate_limit_exceeded" } } }, "RateLimit", 429],
    ["429 without retry-after", { type: "json", status: 429, body: { error: { message: "slow down" } } }, "RateLimit", 429],
    ["500", { type: "json", status: 500, body: { error: { message: "internal" } } }, "ServerError", 500],
    ["502 with an HTML body", { type: "raw", status: 502, body: "<html>Bad gateway</html>" }, "ServerError", 502],
    ["503", { type: "json", status: 503, body: { error: { message: "overloaded" } } }, "ServerError", 503],
    ["401 (a dead key)", { type: "json", status: 401, body: { error: { message: "Invalid API Key", code: "invalid_api_key" } } }, "AuthError", 401],
    ["a 200 whose body is an error", { type: "json", status: 200, body: { error: { message: "Upstream overloaded", code: 503 } } }, "ServerError", 503],
    ["a 200 whose body is not JSON", { type: "raw", status: 200, body: "not json", headers: { "content-type": "application/json" } }, "ServerError", 502],
  ] as Array<[string, Step, string, number]>)("fails over on %s", async (_name, step, category, status) => {
    const { res, a, b } = await failThenAnswer([step]);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(res.headers.get("x-inferrouter-attempts")).toBe("2");
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe(`Hello from ${b.id}`);
    expect(await a.calls()).toHaveLength(1);
    expect(fallbackFor("a")).toMatchObject({ category, status });
  });

  it("fails over when the connection is refused", async () => {
    const b = await scenario();
    const refused = `http://127.0.0.1:${inject("closedPort")}/v1`;
    const res = await call({ config: chainConfig({ a: provider(refused), b: provider(b.baseUrl) }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(fallbackFor("a")).toMatchObject({ category: "NetworkError", status: 0 });
  });

  it("fails over when the connection is reset before an answer", async () => {
    const { res } = await failThenAnswer([{ type: "reset" }]);
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(fallbackFor("a")).toMatchObject({ category: "NetworkError" });
  });

  it("fails over when the connection is reset in the middle of the body", async () => {
    const { res } = await failThenAnswer([{ type: "reset_mid_body" }]);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(fallbackFor("a")).toMatchObject({ category: "NetworkError" });
  });

  it("fails over when the provider hangs past its timeout", async () => {
    const { res } = await failThenAnswer([{ type: "hang" }], { aExtra: { timeout_ms: 200 } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(fallbackFor("a")).toMatchObject({ category: "Timeout", status: 0 });
  });

  it("classifies a daily quota answer as QuotaExceeded", async () => {
    const step: Step = { type: "json", status: 429, body: { error: { message: "Rate limit exceeded: free-models-per-day", code: 429 } } };
    const { res } = await failThenAnswer([step]);
    expect(res.status).toBe(200);
    expect(fallbackFor("a")).toMatchObject({ category: "QuotaExceeded", status: 429 });
  });

  it("reads Gemini's array-wrapped errors", async () => {
    const body = [{ error: { code: 429, message: "You exceeded your current quota", status: "RESOURCE_EXHAUSTED", details: [{ violations: [{ quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier" }] }] } }];
    const { res } = await failThenAnswer([{ type: "json", status: 429, body }]);
    expect(res.status).toBe(200);
    expect(fallbackFor("a")).toMatchObject({ category: "QuotaExceeded" });
  });
});

describe("no failover on the client's own mistakes", () => {
  it("returns a 400 at once with the provider's error, sanitized, and never calls the next provider", async () => {
    const secretLeak = "Invalid request: bad 'tools' for key sk-upstream-secret-123456 at http://10.0.0.7:8080/internal";
    const a = await scenario([{ type: "json", status: 400, body: { error: { message: secretLeak, type: "invalid_request_error", code: "invalid_tools", param: "tools" } } }]);
    const b = await scenario();
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; type: string; code: string; param: null } };
    expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.code).toBe("invalid_tools");
    expect(body.error.message).toContain("bad 'tools'");
    expect(body.error.message).not.toContain("sk-upstream-secret");
    expect(body.error.message).not.toContain("10.0.0.7");
    expect(await b.calls()).toHaveLength(0);
    const failed = logs.events().find((e) => e.event === "infer_failed");
    expect(failed).toMatchObject({ category: "BadRequest", status: 400, provider: "a" });
    expect(JSON.stringify(logs.events())).not.toContain("sk-upstream-secret");
  });

  it("does not fail over on content filtering", async () => {
    const a = await scenario([{ type: "json", status: 400, body: { error: { message: "flagged by content management policy", code: "content_filter" } } }]);
    const b = await scenario();
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("content_filter");
    expect(await b.calls()).toHaveLength(0);
  });

  it("follows failover_on from the config", async () => {
    const a = await scenario([{ type: "json", status: 503, body: { error: { message: "down" } } }]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }, { failover_on: ["RateLimit"] });
    const res = await call({ config });
    expect(res.status).toBe(503);
    expect(await b.calls()).toHaveLength(0);
  });
});

describe("error rules", () => {
  const overloaded: Step = { type: "json", status: 400, body: { error: { message: "Model is overloaded, try later" } } };

  it("a global rule turns an answer into a category that fails over", async () => {
    const a = await scenario([overloaded]);
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }, {
      error_rules: [{ status: 400, message: "overloaded", category: "ServerError" }],
    });
    const res = await call({ config });
    expect(res.status).toBe(200);
    expect(fallbackFor("a")).toMatchObject({ category: "ServerError", status: 400 });
  });

  it("a provider's own rule wins over the global one", async () => {
    const a = await scenario([overloaded]);
    const b = await scenario();
    const config = chainConfig(
      { a: provider(a.baseUrl, { error_rules: [{ message: "overloaded", category: "BadRequest" }] }), b: provider(b.baseUrl) },
      { error_rules: [{ status: 400, message: "overloaded", category: "ServerError" }] },
    );
    const res = await call({ config });
    expect(res.status).toBe(400);
    expect(await b.calls()).toHaveLength(0);
  });
});

describe("every provider spent", () => {
  it("answers 429 with the earliest retry-after when every provider was rate limited", async () => {
    const a = await scenario([{ type: "json", status: 429, headers: { "retry-after": "30" }, body: { error: { message: "slow" } } }]);
    const b = await scenario([{ type: "json", status: 429, headers: { "retry-after-ms": "4500" }, body: { error: { message: "slow" } } }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }) });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("5");
    const body = (await res.json()) as { error: { message: string; type: string; code: string } };
    expect(body.error).toMatchObject({ type: "rate_limit_error", code: "all_providers_rate_limited" });
    expect(body.error.message).toContain("a: RateLimit (429)");
    expect(body.error.message).toContain("b: RateLimit (429)");
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ status: 429, attempts: 2 });
  });

  it("answers 503 without retry-after when the failures were not all limits", async () => {
    const a = await scenario([{ type: "json", status: 429, body: { error: { message: "slow" } } }]);
    const b = await scenario([{ type: "json", status: 500, body: { error: { message: "boom" } } }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }) });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeNull();
    const body = (await res.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe("all_providers_failed");
    expect(body.error.message).toContain("a: RateLimit (429); b: ServerError (500)");
  });

  it("skips a provider whose key is not set, logs why, and never calls it", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { api_key_secret: "NOT_SET_ANYWHERE" }), b: provider(b.baseUrl) });
    const res = await call({ config });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(res.headers.get("x-inferrouter-attempts")).toBe("1");
    expect(await a.calls()).toHaveLength(0);
    expect(logs.events().find((e) => e.event === "infer_skipped")).toMatchObject({ provider: "a", reason: "missing_key" });
  });

  it("answers 503 when no provider has a key", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { api_key_secret: "NOT_SET_ANYWHERE" }) });
    const res = await call({ config });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("a: skipped (missing key)");
  });
});

describe("failover on streams, before the first content byte", () => {
  const cases: Array<[string, Step, string]> = [
    ["a 200 whose first event is an error", { type: "sse", events: [{ error: { message: "Provider returned error", code: 429 } }], end: "close" }, "RateLimit"],
    ["a stream cut before its first event", { type: "sse", events: [], prelude: ": OPENROUTER PROCESSING\n\n", end: "reset" }, "NetworkError"],
    ["a 200 that sends nothing and closes", { type: "sse", events: [], end: "close" }, "ServerError"],
    ["[DONE] without an answer", { type: "sse", events: [], end: "done" }, "ServerError"],
    ["a 429 to a stream request", { type: "json", status: 429, body: { error: { message: "slow" } } }, "RateLimit"],
  ];
  it.each(cases)("fails over on %s", async (_name, step, category) => {
    const { res, b } = await failThenAnswer([step], { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    const data = await sseData(res);
    expect(data.at(-1)).toBe("[DONE]");
    expect(data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? "").join("")).toBe(`Hello from ${b.id}`);
    expect(fallbackFor("a")).toMatchObject({ category });
  });

  it("fails over when a stream is cut after its role-only first chunk", async () => {
    const base = { id: "x", object: "chat.completion.chunk", created: 1, model: "m" };
    const roleOnly = { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] };
    for (const end of ["reset", "close"] as const) {
      const { res, b } = await failThenAnswer([{ type: "sse", events: [roleOnly], end }], { stream: true });
      expect(res.headers.get("x-inferrouter-provider")).toBe("b");
      const data = await sseData(res);
      expect(data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? "").join("")).toBe(`Hello from ${b.id}`);
    }
    const { res } = await failThenAnswer([{ type: "sse", events: [roleOnly, { error: { message: "overloaded", code: 503 } }], end: "close" }], { stream: true });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    await res.text();
  });

  it("fails over when a stream sends no event within the timeout", async () => {
    const { res } = await failThenAnswer([{ type: "sse", events: [], end: "hang" }], { stream: true, aExtra: { first_token_timeout_ms: 200 } });
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    await res.text();
    expect(fallbackFor("a")).toMatchObject({ category: "Timeout" });
  });
});

describe("stream pass-through", () => {
  it("passes upstream's bytes through unchanged", async () => {
    const a = await scenario();
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true, stream_options: { include_usage: true } }) });
    const expected = chunks("upstream-model", `Hello from ${a.id}`, true).map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
    expect(await res.text()).toBe(expected);
  });

  it("hands the client the first content before upstream has finished (no buffering)", async () => {
    const base = { id: "x", object: "chat.completion.chunk", created: 1, model: "m" };
    const first = { ...base, choices: [{ index: 0, delta: { role: "assistant", content: "first words" }, finish_reason: null }] };
    // Upstream sends one chunk and then nothing: a relay that waited for the end would never answer.
    const a = await scenario([{ type: "sse", events: [first], end: "hang" }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl, { timeout_ms: 15_000 }) }), body: chat({ stream: true }) });
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toBe(`data: ${JSON.stringify(first)}\n\n`);
    // The client has its first words while upstream's answer is still open.
    expect((await a.calls()).map((call) => call.abandoned)).toEqual([false]);
    await reader.cancel();
    // Cancelling the client's stream releases the upstream connection.
    await expect.poll(async () => (await a.calls())[0]?.abandoned, { timeout: 5_000 }).toBe(true);
  });
});

describe("streams that break after the first content byte", () => {
  it.each(["reset", "hang"] as const)("complete when they break after the finish reason (%s): the answer was whole", async (end) => {
    const a = await scenario([{ type: "sse", content: "a whole answer", end }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl, { stream_idle_timeout_ms: 300 }) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(data.at(-1)).toBe("[DONE]");
    expect(data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? "").join("")).toBe("a whole answer");
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ provider: "a", finish_reason: "stop" });
  });

  it("ends with an OpenAI error event, never a clean [DONE], and logs infer_failed", async () => {
    // Cut after its third chunk, before the finish reason: the answer is not whole.
    const a = await scenario([{ type: "sse", content: "partial answer that breaks", cut_after: 3, end: "reset" }]);
    const b = await scenario();
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }), body: chat({ stream: true }) });
    expect(res.status).toBe(200);
    const data = await sseData(res);
    expect(data).not.toContain("[DONE]");
    const last = JSON.parse(data.at(-1)!) as { error: { message: string; type: string; code: string; param: null } };
    expect(Object.keys(last.error).sort()).toEqual(["code", "message", "param", "type"]);
    expect(last.error.code).toBe("stream_interrupted");
    expect(await b.calls()).toHaveLength(0);
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ provider: "a", category: "NetworkError" });
  });

  it("ends with an error event when upstream stalls mid-stream", async () => {
    const a = await scenario([{ type: "sse", content: "half an answer", cut_after: 3, end: "hang" }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl, { stream_idle_timeout_ms: 300 }) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(JSON.parse(data.at(-1)!).error.type).toBe("timeout_error");
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ category: "Timeout" });
  });

  it("treats a clean close without [DONE] or finish_reason as cut short", async () => {
    const base = { id: "x", object: "chat.completion.chunk", created: 1, model: "m" };
    const a = await scenario([{ type: "sse", events: [{ ...base, choices: [{ index: 0, delta: { content: "Hel" }, finish_reason: null }] }], end: "close" }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true }) });
    const data = await sseData(res);
    expect(JSON.parse(data.at(-1)!).error.code).toBe("stream_interrupted");
  });

  it("passes an upstream error event on, sanitized and categorized, and logs the request as failed", async () => {
    const base = { id: "x", object: "chat.completion.chunk", created: 1, model: "m" };
    const leak = "rate limited for sk-upstream-secret-123456 by http://10.1.2.3:9000/limits";
    const events = [{ ...base, choices: [{ index: 0, delta: { content: "Hel" }, finish_reason: null }] }, { error: { message: leak, code: 429 } }];
    const a = await scenario([{ type: "sse", events, end: "close" }]);
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl) }), body: chat({ stream: true }) });
    const text = await res.text();
    expect(text).not.toContain("sk-upstream-secret");
    expect(text).not.toContain("10.1.2.3");
    const last = JSON.parse((await sseDataOf(text)).at(-1)!) as { error: { message: string; type: string; param: null; code: unknown } };
    expect(Object.keys(last.error).sort()).toEqual(["code", "message", "param", "type"]);
    expect(last.error.message).toContain("rate limited for [redacted]");
    expect(logs.events().find((e) => e.event === "infer_failed")).toMatchObject({ provider: "a", category: "RateLimit" });
    expect(JSON.stringify(logs.events())).not.toContain("sk-upstream-secret");
  });
});
