// GET /v1/providers/health: a probe per provider that spends no completion quota.
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { call, CLIENT_KEY, provider, scenario, TEST_SECRETS } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

checkLogInvariant();
const ADMIN = { authorization: "Bearer sk-test-admin" };

interface Probe {
  status: string;
  http_status: number;
  latency_ms: number;
  url_path: string;
  message?: string;
  circuit: { state: string };
}

describe("GET /v1/providers/health", () => {
  it("reports reachable, auth failed and down providers with latency and circuit, calling GET /models with each key", async () => {
    const up = await scenario();
    const badKey = await scenario([{ type: "json", status: 401, body: { error: { message: "Invalid API Key" } } }]);
    const broken = await scenario([{ type: "json", status: 503, body: { error: { message: "overloaded" } } }]);
    const sidecar = await scenario();
    const refused = `http://127.0.0.1:${inject("closedPort")}/v1`;
    const config = {
      routes: { default: ["up", "bad_key", "broken", "refused", "local", "nokey"] },
      providers: {
        up: provider(up.baseUrl, { requests_per_day: 5 }),
        bad_key: provider(badKey.baseUrl, { api_key_secret: "OTHER_PROVIDER_KEY" }),
        broken: provider(broken.baseUrl),
        refused: provider(refused),
        local: provider(sidecar.baseUrl, { type: "local_gguf" }),
        nokey: provider(up.baseUrl, { api_key_secret: "NOT_SET_ANYWHERE" }),
      },
    };
    const res = await call({ config, method: "GET", path: "/v1/providers/health", headers: ADMIN });
    expect(res.status).toBe(200);
    const { providers } = (await res.json()) as { providers: Record<string, Probe> };
    expect(providers.up).toMatchObject({ status: "reachable", http_status: 200, url_path: `/s/${up.id}/v1/models`, circuit: { state: "closed" } });
    expect(providers.bad_key).toMatchObject({ status: "auth_failed", http_status: 401 });
    expect(providers.broken).toMatchObject({ status: "down", http_status: 503 });
    expect(providers.refused).toMatchObject({ status: "down", http_status: 0 });
    expect(providers.refused!.message).toMatch(/^network error/);
    expect(providers.local).toMatchObject({ status: "reachable", url_path: `/s/${sidecar.id}/health` });
    expect(providers.nokey).toMatchObject({ status: "key_missing" });
    for (const probe of Object.values(providers)) expect(typeof probe.latency_ms).toBe("number");

    // Each probe is one GET with the provider's own key; no chat completion anywhere.
    const upCalls = await up.calls();
    expect(upCalls).toHaveLength(1);
    expect(upCalls[0]).toMatchObject({ method: "GET", path: `/s/${up.id}/v1/models` });
    expect(upCalls[0]!.headers.authorization).toBe(`Bearer ${TEST_SECRETS.TEST_PROVIDER_KEY}`);
    expect((await badKey.calls())[0]!.headers.authorization).toBe(`Bearer ${TEST_SECRETS.OTHER_PROVIDER_KEY}`);
    expect((await sidecar.calls())[0]).toMatchObject({ method: "GET", path: `/s/${sidecar.id}/health` });
    for (const s of [up, badKey, broken, sidecar]) expect((await s.calls()).some((c) => c.path.endsWith("/chat/completions"))).toBe(false);
    // No quota spent: the tracker admitted nothing.
    const quota = (await (await call({ config, method: "GET", path: "/v1/quota", headers: ADMIN })).json()) as { providers: Record<string, { requests_today: number }> };
    expect(quota.providers.up!.requests_today).toBe(0);
  });

  it("gives up on a provider that does not answer within the probe's short timeout, and still reports the others", async () => {
    const hang = await scenario([{ type: "hang" }]);
    const up = await scenario();
    const config = { routes: { default: ["hang", "up"] }, providers: { hang: provider(hang.baseUrl), up: provider(up.baseUrl) } };
    const res = await call({ config, method: "GET", path: "/v1/providers/health", headers: ADMIN });
    const { providers } = (await res.json()) as { providers: Record<string, Probe> };
    expect(providers.hang).toMatchObject({ status: "down", http_status: 0 });
    expect(providers.hang!.message).toMatch(/^no answer within \d+ ms$/);
    expect(providers.up).toMatchObject({ status: "reachable" });
  });

  it("is for admin keys only", async () => {
    const config = { routes: { default: ["a"] }, providers: { a: provider("http://127.0.0.1:1/v1") } };
    expect((await call({ config, method: "GET", path: "/v1/providers/health", headers: { authorization: `Bearer ${CLIENT_KEY}` } })).status).toBe(403);
  });
});
