// GET /v1/models/{id} and browser access (cors_origins) through the real Worker.
import { describe, expect, it } from "vitest";
import { call, chainConfig, chat, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

checkLogInvariant();
const APP = "https://app.example";

describe("GET /v1/models/{id}", () => {
  it("answers a route as a model object, and 404 model_not_found otherwise (no default-route fallback)", async () => {
    const config = chainConfig({ a: provider("https://a.test/v1") }, { default_route: "default" });
    const found = await call({ config, method: "GET", path: "/v1/models/default" });
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ id: "default", object: "model", created: 0, owned_by: "inferrouter", capabilities: ["tools", "vision", "json_schema"] });
    const missing = await call({ config, method: "GET", path: "/v1/models/gpt-9" });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { message: 'The model "gpt-9" does not exist', type: "invalid_request_error", param: "model", code: "model_not_found" } });
    expect((await call({ config, method: "GET", path: "/v1/models/default", headers: { authorization: "" } })).status).toBe(401);
  });
});

describe("cors_origins", () => {
  const preflight = (config: unknown, origin: string) =>
    call({
      config,
      method: "OPTIONS",
      path: "/v1/chat/completions",
      rawBody: "",
      headers: { authorization: "", origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });

  it("answers a preflight from an allowed origin without a key, and no other", async () => {
    const config = chainConfig({ a: provider("https://a.test/v1") }, { cors_origins: [APP] });
    const ok = await preflight(config, APP);
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe(APP);
    expect(ok.headers.get("access-control-allow-methods")).toContain("POST");
    expect(ok.headers.get("access-control-allow-headers")).toBe("authorization,content-type");
    expect(ok.headers.get("access-control-allow-credentials")).toBeNull();
    const other = await preflight(config, "https://evil.example");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("lets an allowed origin read a cross-origin answer and its headers; without cors_origins nothing is added", async () => {
    const a = await scenario();
    const config = chainConfig({ a: provider(a.baseUrl) }, { cors_origins: [APP] });
    const res = await call({ config, body: chat(), headers: { origin: APP } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-expose-headers")).toContain("x-inferrouter-provider");
    const refused = await call({ config, body: chat(), headers: { origin: APP, authorization: "Bearer sk-wrong" } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe(APP);
    const closed = await call({ config: chainConfig({ a: provider(a.baseUrl) }), body: chat(), headers: { origin: APP } });
    expect(closed.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows any origin with *", async () => {
    const res = await preflight(chainConfig({ a: provider("https://a.test/v1") }, { cors_origins: ["*"] }), "https://any.example");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});
