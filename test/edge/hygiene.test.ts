// What reaches a provider: steering fields dropped, the operator's defaults and overrides, the key
// in the header the provider wants, no redirects followed, and secrets that cannot be read.
import { describe, expect, it } from "vitest";
import { call, chainConfig, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();

describe("body hygiene", () => {
  const steering = {
    models: ["openai/gpt-5"],
    route: "fallback",
    provider: { order: ["OpenAI"], allow_fallbacks: true },
    plugins: [{ id: "web" }],
    transforms: ["middle-out"],
    preset: "@preset/expensive",
    service_tier: "priority",
  };

  it("drops the fields that steer the operator's account, and drop_fields on top", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl) }, { drop_fields: ["user", "seed"] });
    await call({ config, body: chat({ ...steering, user: "u-1", seed: 7, temperature: 0.2, custom_field: "kept" }) });
    const [upstream] = await a.calls();
    for (const field of [...Object.keys(steering), "user", "seed"]) expect(upstream!.body).not.toHaveProperty(field);
    expect(upstream!.body).toMatchObject({ temperature: 0.2, custom_field: "kept", model: "upstream-model" });
  });

  it("lets a provider's allow_fields through", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { allow_fields: ["provider", "service_tier"] }) });
    await call({ config, body: chat(steering) });
    const [upstream] = await a.calls();
    expect(upstream!.body).toMatchObject({ provider: steering.provider, service_tier: "priority" });
    expect(upstream!.body).not.toHaveProperty("models");
  });

  it("adds body_defaults the client left out and always sets body_overrides", async () => {
    const a = await scenario();
    const config = chainConfig({
      a: provider(a.baseUrl, {
        body_defaults: { temperature: 0.3, top_p: 0.9 },
        body_overrides: { max_tokens: 256, provider: { order: ["Groq"] } },
      }),
    });
    await call({ config, body: chat({ top_p: 0.5, max_tokens: 100000, provider: { order: ["OpenAI"] } }) });
    const [upstream] = await a.calls();
    expect(upstream!.body).toMatchObject({ temperature: 0.3, top_p: 0.5, max_tokens: 256, provider: { order: ["Groq"] } });
  });
});

describe("the key", () => {
  it("goes in api_key_header as the raw key when the provider names one", async () => {
    const a = await scenario();
    await call({ config: chainConfig({ a: provider(a.baseUrl, { api_key_header: "api-key" }) }) });
    const [upstream] = await a.calls();
    expect(upstream!.headers["api-key"]).toBe("sk-upstream-secret-123456");
    expect(upstream!.headers.authorization).toBeUndefined();
  });

  it("goes in authorization as a bearer token by default", async () => {
    const a = await scenario();
    await call({ config: chainConfig({ a: provider(a.baseUrl) }) });
    expect((await a.calls())[0]!.headers.authorization).toBe("Bearer sk-upstream-secret-123456");
  });

  it("from a Secrets Store binding whose get() throws is a missing key: skipped and logged, not a 500", async () => {
    const a = await scenario();
    const b = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl, { api_key_secret: "STORE_KEY" }), b: provider(b.baseUrl) });
    const store = { get: async () => { throw new Error("secret sk-should-not-leak-1234567 unavailable"); } };
    const res = await call({ config, env: { STORE_KEY: store } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(await a.calls()).toHaveLength(0);
    const skip = logs.events().find((e) => e.event === "infer_skipped");
    expect(skip).toMatchObject({ provider: "a", reason: "missing_key" });
    expect(skip!.message).toContain("STORE_KEY could not be read");
    expect(JSON.stringify(logs.events())).not.toContain("sk-should-not-leak");
  });
});

describe("redirects", () => {
  it("are not followed: a 3xx is a failure and the walk fails over", async () => {
    const elsewhere = await scenario();
    const a = await scenario([{ type: "raw", status: 302, body: "", headers: { location: `${elsewhere.baseUrl}/chat/completions` } }]);
    const b = await scenario();
    const res = await call({ config: chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("b");
    expect(await elsewhere.calls()).toHaveLength(0);
    const fallback = logs.events().find((e) => e.event === "infer_fallback");
    expect(fallback).toMatchObject({ provider: "a", status: 302 });
    expect(fallback!.message).toContain("redirect, not followed");
  });
});

describe("a dead key", () => {
  it("answers 503 without retry-after while it cools down, never 429", async () => {
    const a = await scenario([{ type: "json", status: 401, body: { error: { message: "Invalid API Key", code: "invalid_api_key" } } }]);
    const config = chainConfig({ a: provider(a.baseUrl, { requests_per_minute: 100 }) });
    const first = await call({ config });
    expect(first.status).toBe(503);
    const second = await call({ config });
    expect(second.status).toBe(503);
    expect(second.headers.get("retry-after")).toBeNull();
    expect(((await second.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: "all_providers_failed",
      message: expect.stringContaining("a: skipped (cooldown (auth_error))"),
    });
    expect(await a.calls()).toHaveLength(1);
  });
});
