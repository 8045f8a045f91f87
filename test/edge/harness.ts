// Drives the real Worker (edge/index.ts) inside workerd with a config of the test's own, against
// scenarios scripted on the fake provider. Log lines are read from console.log, where the Worker
// writes them.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, inject, vi, type MockInstance } from "vitest";
import worker from "../../edge/index.ts";
import type { InferEvent } from "../../shared/events.ts";
import type { RecordedCall, Script, Step } from "../support/fake-provider-protocol.ts";

export const CLIENT_KEY = "sk-test-client-1";
export const fakeUrl = () => inject("fakeProviderUrl");

let counter = 0;

export interface Scenario {
  id: string;
  baseUrl: string;
  calls(): Promise<RecordedCall[]>;
  /** Resolves once the scenario has received `count` calls (the fake provider long-polls). */
  waitForCalls(count: number): Promise<RecordedCall[]>;
}

/** A fresh scripted provider endpoint. */
export async function scenario(steps: Step[] | Script = []): Promise<Scenario> {
  const id = `sc${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const script: Script = Array.isArray(steps) ? { steps } : steps;
  const res = await fetch(`${fakeUrl()}/_script/${id}`, { method: "POST", body: JSON.stringify(script) });
  if (res.status !== 204) throw new Error(`scripting the fake provider failed: ${res.status}`);
  return {
    id,
    baseUrl: `${fakeUrl()}/s/${id}/v1`,
    calls: async () => (await (await fetch(`${fakeUrl()}/_calls/${id}`)).json()) as RecordedCall[],
    waitForCalls: async (count) => {
      const res = await fetch(`${fakeUrl()}/_wait/${id}?calls=${count}`);
      if (!res.ok) throw new Error(`scenario ${id} did not reach ${count} calls`);
      return (await res.json()) as RecordedCall[];
    },
  };
}

export function provider(baseUrl: string, extra: Record<string, unknown> = {}) {
  return { type: "openai_compatible", base_url: baseUrl, model: "upstream-model", api_key_secret: "TEST_PROVIDER_KEY", timeout_ms: 2_000, ...extra };
}

/** A config whose `default` route walks the given providers in order. */
export function chainConfig(providers: Record<string, Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  return { routes: { default: Object.keys(providers) }, providers, ...extra };
}

export interface CallOptions {
  config: unknown;
  body?: unknown;
  /** A ReadableStream is sent chunked, without content-length. */
  rawBody?: string | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  env?: Record<string, unknown>;
  method?: string;
  path?: string;
  signal?: AbortSignal;
}

export const TEST_SECRETS = { TEST_PROVIDER_KEY: "sk-upstream-secret-123456", OTHER_PROVIDER_KEY: "sk-other-secret-654321" };

const contexts = new WeakMap<Response, ExecutionContext>();

/** Waits for the background work (waitUntil) a response's request has registered so far. */
export async function settled(response: Response): Promise<void> {
  const ctx = contexts.get(response);
  if (ctx) await waitOnExecutionContext(ctx);
}

/** Sends one request through the Worker with the given config; waits for its background work. */
export async function call(options: CallOptions): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json", ...options.headers };
  for (const [name, value] of Object.entries(headers)) if (value === "") delete headers[name];
  const request = new Request(`http://inferrouter.test${options.path ?? "/v1/chat/completions"}`, {
    method: options.method ?? "POST",
    headers,
    body: options.method === "GET" ? undefined : (options.rawBody ?? JSON.stringify(options.body ?? chat())),
    signal: options.signal,
  });
  const ctx = createExecutionContext();
  const testEnv = { ...env, ...TEST_SECRETS, ROUTER_CONFIG: options.config, ...options.env };
  const response = await worker.fetch(request, testEnv as typeof env, ctx);
  await waitOnExecutionContext(ctx);
  contexts.set(response, ctx);
  return response;
}

export function chat(extra: Record<string, unknown> = {}) {
  return { model: "default", messages: [{ role: "user", content: "Say hello" }], ...extra };
}

/** Captures the Worker's log lines (JSON objects written through console.log). */
export function captureLogs(): { events(): InferEvent[]; spy: MockInstance } {
  const spy = vi.spyOn(console, "log").mockImplementation(() => {});
  return {
    spy,
    events: () =>
      spy.mock.calls.flatMap(([line]) => {
        try {
          const event = JSON.parse(String(line));
          return typeof event?.event === "string" ? [event as InferEvent] : [];
        } catch {
          return [];
        }
      }),
  };
}

/** The named events of an SSE body (Responses, Messages), checking each frame's `event:` line against its data's type. */
export async function namedEvents(res: Response): Promise<Array<Record<string, any>>> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((frame) => {
      const event = /^event: (.+)$/m.exec(frame)?.[1];
      const data = JSON.parse(/^data: (.+)$/m.exec(frame)![1]!) as Record<string, any>;
      expect(event).toBe(data.type);
      return data;
    });
}

/** Reads a whole SSE body into its data payloads. */
export async function sseData(response: Response): Promise<string[]> {
  const text = await response.text();
  return text
    .split(/\n\n/)
    .map((frame) => frame.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n"))
    .filter(Boolean);
}

/** Asserts the log invariant: every infer_started has exactly one terminal event, and vice versa. */
export function terminalCounts(events: InferEvent[]): Map<string, { started: number; terminal: number }> {
  const counts = new Map<string, { started: number; terminal: number }>();
  for (const event of events) {
    const entry = counts.get(event.request_id) ?? { started: 0, terminal: 0 };
    if (event.event === "infer_started") entry.started++;
    if (["infer_completed", "infer_failed", "infer_cancelled"].includes(event.event)) entry.terminal++;
    counts.set(event.request_id, entry);
  }
  return counts;
}
