// What the status page stands on, in workerd: GET /status itself, and the fields of /v1/quota it
// draws (type, key present or missing, reset zone, the isolate's recent skips and failovers).
import { describe, expect, it } from "vitest";
import { call, chainConfig, provider, scenario } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

checkLogInvariant();
const ADMIN = { authorization: "Bearer sk-test-admin" };

interface Report {
  providers: Record<string, { type: string; key: string; daily_reset_tz?: string }>;
  recent: Array<Record<string, unknown>>;
}

async function report(config: unknown, env?: Record<string, unknown>): Promise<Report> {
  const res = await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN, env });
  expect(res.status).toBe(200);
  return (await res.json()) as Report;
}

describe("GET /status", () => {
  it("needs no key and no valid config, and runs only its own nonced style and script", async () => {
    const res = await call({ config: "{not json", method: "GET", path: "/status", headers: { authorization: "" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const csp = res.headers.get("content-security-policy") ?? "";
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toMatch(/^[A-Za-z0-9+/=_-]{16,}$/);
    expect(csp).toContain(`style-src 'nonce-${nonce}'`);
    for (const directive of ["default-src 'none'", "connect-src 'self'", "form-action 'none'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]) {
      expect(csp).toContain(directive);
    }
    const body = await res.text();
    expect(body.match(/<script/g)).toHaveLength(1);
    expect(body).toContain(`<script nonce="${nonce}">`);
    expect(body).toContain(`<style nonce="${nonce}">`);
    // A fresh nonce for every response.
    const again = await call({ config: "{not json", method: "GET", path: "/status", headers: { authorization: "" } });
    expect(again.headers.get("content-security-policy")).not.toContain(nonce);
  });
});

describe("GET /v1/quota for the status page", () => {
  it("says each provider's type, whether its key is set, and the zone of its daily reset", async () => {
    const config = chainConfig({
      keyed: provider("http://127.0.0.1:9/v1"),
      unset: provider("http://127.0.0.1:9/v1", { api_key_secret: "NOT_SET_ANYWHERE" }),
      stored: provider("http://127.0.0.1:9/v1", { api_key_secret: "STORE_BOUND_KEY" }),
      keyless: { type: "local_gguf", base_url: "http://127.0.0.1:9/v1", model: "local", daily_reset_tz: "Europe/Berlin" },
    });
    const { providers } = await report(config, { STORE_BOUND_KEY: { get: async () => "sk-from-secrets-store" } });
    expect(providers.keyed).toMatchObject({ type: "openai_compatible", key: "present" });
    expect(providers.keyed!.daily_reset_tz).toBeUndefined();
    expect(providers.unset).toMatchObject({ key: "missing" });
    expect(providers.stored).toMatchObject({ key: "present" });
    expect(providers.keyless).toMatchObject({ type: "local_gguf", key: "present", daily_reset_tz: "Europe/Berlin" });
  });

  it("keeps this isolate's last 50 skips and failovers, newest first, and nothing else", async () => {
    const broken = await scenario([{ type: "json", status: 500, body: { error: { message: "upstream broke" } } }]);
    const healthy = await scenario();
    const tag = broken.id; // provider ids of this test only, since the list is shared by the isolate
    const config = chainConfig({
      [`nokey-${tag}`]: provider(healthy.baseUrl, { api_key_secret: "NOT_SET_ANYWHERE" }),
      // No retries and no circuit: every request meets the 500 and fails over.
      [`broken-${tag}`]: provider(broken.baseUrl, { retries: 0, breaker_failures: 1000 }),
      [`healthy-${tag}`]: provider(healthy.baseUrl),
    });
    const first = await call({ config });
    expect(first.status).toBe(200);
    let { recent } = await report(config);
    expect(recent[0]).toMatchObject({
      event: "infer_fallback",
      request_id: first.headers.get("x-request-id"),
      route: "default",
      provider: `broken-${tag}`,
      category: "ServerError",
      status: 500,
    });
    expect(recent[1]).toMatchObject({ event: "infer_skipped", request_id: first.headers.get("x-request-id"), provider: `nokey-${tag}`, reason: "missing_key" });
    expect(typeof recent[0]!.ts).toBe("string");

    let last = first;
    for (let i = 0; i < 30; i++) last = await call({ config });
    ({ recent } = await report(config));
    expect(recent).toHaveLength(50);
    expect(recent.every((e) => e.event === "infer_skipped" || e.event === "infer_fallback")).toBe(true);
    expect(recent[0]).toMatchObject({ event: "infer_fallback", request_id: last.headers.get("x-request-id") });
    expect(recent.some((e) => e.request_id === first.headers.get("x-request-id"))).toBe(false);
  });
});
