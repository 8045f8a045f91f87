// The official openai SDK against `wrangler dev`, failing over across scripted providers.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeProvider, type FakeProvider } from "../support/fake-provider.ts";
import type { Step } from "../support/fake-provider-protocol.ts";
import { startWranglerDev, type WranglerDev } from "../support/wrangler-dev.ts";

let fake: FakeProvider;
let edge: WranglerDev;
const KEY = "sk-e2e-client";

async function script(id: string, steps: Step[]) {
  await fetch(`${fake.url}/_script/${id}`, { method: "POST", body: JSON.stringify({ steps }) });
}

const provider = (id: string) => ({ type: "openai_compatible", base_url: `${fake.url}/s/${id}/v1`, model: `model-${id}`, api_key_secret: "E2E_KEY", timeout_ms: 5000 });

beforeAll(async () => {
  fake = await startFakeProvider();
  const config = {
    default_route: "default",
    routes: { default: ["limited", "broken", "healthy"], lonely: ["limited"], metered: ["metered", "healthy"] },
    providers: {
      limited: provider("limited"),
      // No retry and no circuit: every request meets its 500 and fails over (these tests are about failover).
      broken: { ...provider("broken"), retries: 0, breaker_failures: 1000 },
      healthy: provider("healthy"),
      metered: { ...provider("metered"), requests_per_minute: 3, requests_per_day: 100 },
    },
  };
  edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: KEY, E2E_KEY: "sk-e2e-upstream" } });
});

afterAll(async () => {
  await edge?.stop();
  await fake?.close();
});

const client = () => new OpenAI({ baseURL: `${edge.url}/v1`, apiKey: KEY, maxRetries: 0 });

const TERMINAL = ["infer_completed", "infer_failed", "infer_cancelled"];

/**
 * The log lines of the given requests (found by their own x-request-id, never by what earlier
 * tests left), once each has its terminal line: the Worker writes them after the answer.
 */
async function linesOf(ids: string[]) {
  const lines = () => edge.events().filter((e) => ids.includes(String(e.request_id)));
  await vi.waitFor(() => {
    const ended = new Set(lines().filter((e) => TERMINAL.includes(String(e.event))).map((e) => e.request_id));
    if (ended.size < ids.length) throw new Error(`${ids.length - ended.size} requests have no terminal line yet`);
  }, { timeout: 5_000, interval: 100 });
  return lines();
}

describe("openai SDK through wrangler dev", () => {
  it("fails over from a 429 and a 500 to the provider that answers, plain and streamed", async () => {
    await script("limited", [{ type: "json", status: 429, headers: { "retry-after": "20" }, body: { error: { message: "slow down" } } }]);
    await script("broken", [{ type: "json", status: 500, body: { error: { message: "boom" } } }]);
    await script("healthy", []);
    const { data, response } = await client().chat.completions.create({ model: "default", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe("Hello from healthy");
    expect(response.headers.get("x-inferrouter-provider")).toBe("healthy");
    expect(response.headers.get("x-inferrouter-attempts")).toBe("3");

    const stream = await client().chat.completions.create({ model: "default", stream: true, messages: [{ role: "user", content: "hi" }] });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("Hello from healthy");
  });

  it("gives the SDK its own error classes", async () => {
    await script("limited", [{ type: "json", status: 429, headers: { "retry-after": "20" }, body: { error: { message: "slow down" } } }]);
    await expect(client().chat.completions.create({ model: "lonely", messages: [{ role: "user", content: "hi" }] })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    const bad = new OpenAI({ baseURL: `${edge.url}/v1`, apiKey: "sk-wrong", maxRetries: 0 });
    await expect(bad.chat.completions.create({ model: "default", messages: [{ role: "user", content: "hi" }] })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("never sends a request to a provider past its limits, and logs why it skipped it", async () => {
    await script("metered", []);
    const ids = Array.from({ length: 10 }, (_, i) => `e2e-metered-${i}`);
    const answers = await Promise.all(
      ids.map((id) => client().chat.completions.create({ model: "metered", messages: [{ role: "user", content: "hi" }] }, { headers: { "x-request-id": id } })),
    );
    const texts = answers.map((a) => a.choices[0]!.message.content);
    expect(texts.filter((t) => t === "Hello from metered")).toHaveLength(3);
    expect(texts.filter((t) => t === "Hello from healthy")).toHaveLength(7);
    const calls = (await (await fetch(`${fake.url}/_calls/metered`)).json()) as unknown[];
    expect(calls).toHaveLength(3);
    const lines = await linesOf(ids);
    const skips = lines.filter((e) => e.event === "infer_skipped" && e.provider === "metered");
    expect(skips).toHaveLength(7);
    expect(skips.every((e) => e.reason === "rpm" && typeof e.retry_at === "string")).toBe(true);
  });

  it("writes one JSON log line per event, with one terminal event per request", async () => {
    await script("limited", [{ type: "json", status: 429, headers: { "retry-after": "20" }, body: { error: { message: "slow down" } } }]);
    await script("broken", [{ type: "json", status: 500, body: { error: { message: "boom" } } }]);
    await script("healthy", []);
    const messages = [{ role: "user" as const, content: "hi" }];
    await client().chat.completions.create({ model: "default", messages }, { headers: { "x-request-id": "e2e-log-json" } });
    const stream = await client().chat.completions.create({ model: "default", stream: true, messages }, { headers: { "x-request-id": "e2e-log-stream" } });
    for await (const _chunk of stream);
    await client().chat.completions.create({ model: "lonely", messages }, { headers: { "x-request-id": "e2e-log-limited" } }).catch(() => undefined);
    const ids = ["e2e-log-json", "e2e-log-stream", "e2e-log-limited"];
    const lines = await linesOf(ids);
    for (const id of ids) {
      const own = lines.filter((e) => e.request_id === id);
      expect(own.filter((e) => e.event === "infer_started"), id).toHaveLength(1);
      expect(own.filter((e) => TERMINAL.includes(String(e.event))), id).toHaveLength(1);
    }
    // "limited" is cooling down from its retry-after by now (skipped); "broken" is called and fails over.
    const fallback = lines.find((e) => e.request_id === "e2e-log-json" && e.event === "infer_fallback" && e.provider === "broken");
    expect(fallback).toMatchObject({ category: "ServerError", status: 500 });
    expect(lines.find((e) => e.request_id === "e2e-log-limited" && TERMINAL.includes(String(e.event)))).toMatchObject({ event: "infer_failed", status: 429 });
  });
});
