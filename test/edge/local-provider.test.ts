// The local_gguf provider type: the sidecar behind a Cloudflare Tunnel, protected by Access.
import { describe, expect, it } from "vitest";
import type { Env } from "../../edge/env.ts";
import { buildUpstreamRequest } from "../../edge/providers.ts";
import type { ProviderConfig, RouterConfig } from "../../shared/config.ts";
import { inject } from "vitest";
import { call, chainConfig, chat, provider, scenario, sseData } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const ACCESS = { SIDECAR_TOKEN: "sidecar-token-abcdef", CF_ID: "access-id.access", CF_SECRET: "access-secret-xyz" };

function local(baseUrl: string, extra: Record<string, unknown> = {}) {
  return {
    type: "local_gguf",
    base_url: baseUrl,
    model: "local",
    api_key_secret: "SIDECAR_TOKEN",
    access_client_id_secret: "CF_ID",
    access_client_secret_secret: "CF_SECRET",
    ...extra,
  };
}

describe("local_gguf provider, against a running sidecar", () => {
  const realSidecar = () => ({ ...local(`${inject("sidecarUrl")}/v1`), access_client_id_secret: undefined, access_client_secret_secret: undefined });
  const env = () => ({ SIDECAR_TOKEN: inject("sidecarToken") });

  it("answers from the sidecar when every cloud provider fails", async () => {
    const limited = await scenario([{ type: "json", status: 429, body: { error: { message: "slow down" } } }]);
    const down = await scenario([{ type: "reset" }]);
    const config = chainConfig({ limited: provider(limited.baseUrl), down: provider(down.baseUrl, { retries: 0 }), local: realSidecar() });
    const res = await call({ config, env: env(), body: chat({ max_tokens: 8, temperature: 0 }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-inferrouter-provider")).toBe("local");
    expect(res.headers.get("x-inferrouter-attempts")).toBe("3");
    const body = (await res.json()) as { object: string; choices: Array<{ finish_reason: string }>; usage: { completion_tokens: number } };
    expect(body.object).toBe("chat.completion");
    expect(body.choices[0]!.finish_reason).toBe("length");
    expect(body.usage.completion_tokens).toBe(8);
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ provider: "local", completion_tokens: 8, attempts: 3 });
  });

  it("streams from the sidecar after a cloud failure", async () => {
    const down = await scenario([{ type: "json", status: 503, body: { error: { message: "down" } } }]);
    const config = chainConfig({ down: provider(down.baseUrl), local: realSidecar() });
    const res = await call({ config, env: env(), body: chat({ stream: true, max_tokens: 6, temperature: 0 }) });
    expect(res.headers.get("x-inferrouter-provider")).toBe("local");
    const data = await sseData(res);
    expect(data.at(-1)).toBe("[DONE]");
    expect(JSON.parse(data.at(-2)!).choices[0].finish_reason).toBe("length");
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ provider: "local", completion_tokens: 6, stream: true });
  });

  it("does not fail over on the sidecar's 400 for an unsupported parameter", async () => {
    const config = chainConfig({ local: realSidecar() });
    const res = await call({ config, env: env(), body: chat({ n: 2 }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe("n");
  });
});

describe("local_gguf provider", () => {
  it("sends the sidecar token, the Access service token and the request id, and nothing of the cloud keys", async () => {
    const cloud = await scenario([{ type: "json", status: 503, body: { error: { message: "down" } } }]);
    const sidecar = await scenario();
    const config = chainConfig({ cloud: provider(cloud.baseUrl), local: local(sidecar.baseUrl) });
    const res = await call({ config, env: ACCESS, headers: { "x-request-id": "req-local-1" } });
    expect(res.headers.get("x-inferrouter-provider")).toBe("local");
    const [upstream] = await sidecar.calls();
    expect(upstream!.headers).toMatchObject({
      authorization: "Bearer sidecar-token-abcdef",
      "cf-access-client-id": "access-id.access",
      "cf-access-client-secret": "access-secret-xyz",
      "x-request-id": "req-local-1",
    });
    expect(JSON.stringify(upstream!.headers)).not.toContain("sk-upstream-secret");
    const [cloudCall] = await cloud.calls();
    expect(JSON.stringify(cloudCall!.headers)).not.toContain("sidecar-token");
    expect(cloudCall!.headers["x-request-id"]).toBeUndefined();
  });

  it("is skipped with a logged reason when its Access secret is missing", async () => {
    const sidecar = await scenario();
    const config = chainConfig({ local: local(sidecar.baseUrl) });
    const res = await call({ config, env: { SIDECAR_TOKEN: "t0ken-value" } });
    expect(res.status).toBe(503);
    expect(await sidecar.calls()).toHaveLength(0);
    expect(logs.events().find((e) => e.event === "infer_skipped")).toMatchObject({ provider: "local", reason: "missing_key", message: "secret CF_ID is not set" });
  });

  it("waits longer than a cloud provider by default", async () => {
    const NO_DROPS = { drop_fields: [] } as unknown as RouterConfig;
    const body = { model: "default", messages: [{ role: "user" as const, content: "hi" }] };
    const built = await buildUpstreamRequest(NO_DROPS, local("http://127.0.0.1:9/v1") as ProviderConfig, body, ACCESS as unknown as Env, "r");
    const cloud = await buildUpstreamRequest(NO_DROPS, provider("http://127.0.0.1:9/v1", { timeout_ms: undefined, api_key_secret: undefined }) as ProviderConfig, body, ACCESS as unknown as Env, "r");
    expect(built.ok && built.request.timeoutMs).toBe(120_000);
    expect(cloud.ok && cloud.request.timeoutMs).toBe(30_000);
  });

  it("honours its own timeout_ms", async () => {
    const slow = await scenario([{ type: "hang" }]);
    const config = chainConfig({ local: local(slow.baseUrl, { timeout_ms: 150 }) });
    const res = await call({ config, env: ACCESS });
    expect(res.status).toBe(503);
    expect(logs.events().find((e) => e.event === "infer_fallback")).toMatchObject({ category: "Timeout" });
  });

  it("puts the sidecar's queue-full 503 and unsupported-parameter 400 through the normalizer", async () => {
    const full = await scenario([{ type: "json", status: 503, headers: { "retry-after": "2" }, body: { error: { message: "queue full", type: "server_error", code: "queue_full" } } }]);
    const res = await call({ config: chainConfig({ local: local(full.baseUrl) }), env: ACCESS });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("2");
    const unsupported = await scenario([{ type: "json", status: 400, body: { error: { message: "n > 1 is not supported", type: "invalid_request_error", param: "n", code: "unsupported_parameter" } } }]);
    const bad = await call({ config: chainConfig({ local: local(unsupported.baseUrl) }), env: ACCESS });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string; param: string } }).error).toMatchObject({ code: "unsupported_parameter", param: "n" });
  });
});
