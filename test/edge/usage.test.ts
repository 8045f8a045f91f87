// Every terminal line's cost_usd: from usage (cached prompt tokens at their price, continuations
// added), else the router's estimate marked cost_estimated; null for an unknown price, 0 when
// nothing was generated. The history built from these lines: usage-history.test.ts.
import { describe, expect, it } from "vitest";
import { call, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const ANSWER = Array.from({ length: 60 }, (_, i) => `word${i + 1}`).join(" ");
const FIRST_40 = ANSWER.split(/(?<= )/).slice(0, 40).join("");

const PRICES = {
  paid: { input_per_mtok: 3, output_per_mtok: 15 },
  cheap: { input_per_mtok: 0.5, output_per_mtok: 1.5, cached_input_per_mtok: 0.1 },
  free: { input_per_mtok: 0, output_per_mtok: 0 },
};
const usd = (price: { input_per_mtok: number; output_per_mtok: number }, prompt: number, completion: number) =>
  (prompt * price.input_per_mtok + completion * price.output_per_mtok) / 1e6;

/** Two configured clients with their own keys, and a route per test so the history of one test is its own. */
function config(route: string, providers: Record<string, Record<string, unknown>>, chain = Object.keys(providers)) {
  return {
    routes: { [route]: chain },
    providers,
    clients: { alpha: { key_secret: "ALPHA_KEYS" }, beta: { key_secret: "BETA_KEYS" } },
  };
}
const CLIENT_ENV = { ALPHA_KEYS: "sk-alpha-1", BETA_KEYS: "sk-beta-1" };
const as = (client: "alpha" | "beta") => ({ authorization: `Bearer sk-${client}-1` });

function terminal(requestId: string) {
  return logs.events().find((e) => e.request_id === requestId && ["infer_completed", "infer_failed", "infer_cancelled"].includes(e.event))!;
}


describe("cost_usd on the terminal line", () => {
  it("prices a JSON answer from its usage, counting cached prompt tokens at the cached price", async () => {
    const usage = { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200, prompt_tokens_details: { cached_tokens: 400 } };
    const up = await scenario([{ type: "json", body: { id: "x", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }], usage } }]);
    await call({ config: config("r1", { cheap: provider(up.baseUrl, { price: PRICES.cheap }) }), body: chat({ model: "r1" }), headers: { ...as("alpha"), "x-request-id": "cost-json" }, env: CLIENT_ENV });
    const line = terminal("cost-json");
    expect(line.cost_usd).toBeCloseTo((600 * 0.5 + 400 * 0.1 + 200 * 1.5) / 1e6, 15);
    expect(line.cost_estimated).toBeUndefined();
  });

  it("is null (unknown, never 0) for a provider without a price, and 0 for a free one", async () => {
    const up = await scenario([{ type: "json" }]);
    await call({ config: config("r2", { nopriced: provider(up.baseUrl) }), body: chat({ model: "r2" }), headers: { ...as("alpha"), "x-request-id": "cost-unknown" }, env: CLIENT_ENV });
    expect(terminal("cost-unknown").cost_usd).toBeNull();
    await call({ config: config("r2", { free: provider(up.baseUrl, { price: PRICES.free }) }), body: chat({ model: "r2" }), headers: { ...as("alpha"), "x-request-id": "cost-free" }, env: CLIENT_ENV });
    expect(terminal("cost-free").cost_usd).toBe(0);
  });

  it("estimates a stream that reported no usage (prompt estimate + counted output), marked cost_estimated", async () => {
    // Without stream_options from the fake, no usage chunk: the answer's words are all there is.
    const events = [{ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { role: "assistant", content: "abcdefgh" }, finish_reason: "stop" }] }];
    const up = await scenario([{ type: "sse", events: [...events, "[DONE]"] }]);
    const res = await call({ config: config("r3", { paid: provider(up.baseUrl, { price: PRICES.paid, max_output_tokens: 100 }) }), body: chat({ model: "r3", stream: true }), headers: { ...as("alpha"), "x-request-id": "cost-estimated" }, env: CLIENT_ENV });
    await res.text();
    const line = terminal("cost-estimated");
    expect(line.cost_estimated).toBe(true);
    // "Say hello" is 9 characters: 3 tokens; not kept text, so the output budget (100) is the bound.
    expect(line.cost_usd).toBeCloseTo(usd(PRICES.paid, 3, 100), 15);
  });

  it("adds both providers' parts of a continued stream, each at its own price", async () => {
    const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }]);
    const b = await scenario([{ type: "sse", content: ANSWER, prefill: true }]);
    const cfg = config("r4", { paid: provider(a.baseUrl, { price: PRICES.paid }), cheap: provider(b.baseUrl, { price: PRICES.cheap, capabilities: ["prefill"] }) });
    const res = await call({ config: cfg, body: chat({ model: "r4", stream: true }), headers: { ...as("alpha"), "x-request-id": "cost-continued" }, env: CLIENT_ENV });
    await res.text();
    const line = terminal("cost-continued");
    expect(line).toMatchObject({ continued: true, provider: "cheap", cost_estimated: true });
    // paid broke before its usage chunk: 3 prompt tokens estimated, its 40 words counted from the text it sent.
    const paidPart = usd(PRICES.paid, 3, Math.ceil(FIRST_40.length / 4));
    const cheapPart = usd(PRICES.cheap, line.prompt_tokens!, line.completion_tokens!);
    expect(line.cost_usd).toBeCloseTo(paidPart + cheapPart, 15);
  });

  it("is 0 on a request that failed before any answer", async () => {
    const up = await scenario([{ type: "json", status: 400, body: { error: { message: "bad", type: "invalid_request_error" } } }]);
    await call({ config: config("r5", { paid: provider(up.baseUrl, { price: PRICES.paid }) }), body: chat({ model: "r5" }), headers: { ...as("alpha"), "x-request-id": "cost-failed" }, env: CLIENT_ENV });
    expect(terminal("cost-failed")).toMatchObject({ event: "infer_failed", cost_usd: 0 });
  });
});

describe("POST /internal/usage/flush", () => {
  const flush = (authorization: string, env: Record<string, unknown> = {}) =>
    call({ config: config("r6", { free: provider("http://127.0.0.1:1/v1", { price: PRICES.free }) }), method: "POST", path: "/internal/usage/flush", headers: { authorization }, env, rawBody: "" });

  it("does not exist without USAGE_FLUSH_TOKEN (Cloudflare), nor for a wrong token", async () => {
    expect((await flush("Bearer anything")).status).toBe(404);
    expect((await flush("Bearer wrong", { USAGE_FLUSH_TOKEN: "serve-token" })).status).toBe(404);
  });

  it("writes the pending history for serve's stop when given its token", async () => {
    expect((await flush("Bearer serve-token", { USAGE_FLUSH_TOKEN: "serve-token" })).status).toBe(204);
  });
});
