// The sidecar (local_gguf) is always called as a stream: a JSON client gets a chat.completion the
// edge assembles from the chunks, and a broken cloud stream is continued by the real sidecar
// (prefill is on by default for local_gguf).
import { describe, expect, inject, it } from "vitest";
import { chunks } from "../support/fake-provider-protocol.ts";
import { call, chainConfig, chat, provider, scenario, sseData } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const sidecarAt = (baseUrl: string) => ({ type: "local_gguf", base_url: baseUrl, model: "local", api_key_secret: "SIDECAR_TOKEN" });
const sidecarEnv = () => ({ SIDECAR_TOKEN: inject("sidecarToken") });
const realSidecar = () => sidecarAt(`${inject("sidecarUrl")}/v1`);

type Completion = { object: string; id: string; choices: Array<{ message: { content: string | null; tool_calls?: unknown[] }; finish_reason: string }>; usage: { completion_tokens: number } };
type Chunk = { id: string; choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }> };

describe("a JSON client of the sidecar", () => {
  it("is served through a stream: the edge asks for one (with usage) and assembles the chat.completion", async () => {
    const local = await scenario();
    const res = await call({ config: chainConfig({ local: sidecarAt(local.baseUrl) }), env: { SIDECAR_TOKEN: "t0ken" }, body: chat() });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = (await res.json()) as Completion;
    expect(body).toMatchObject({ object: "chat.completion", id: "chatcmpl-fake", choices: [{ message: { role: "assistant", content: `Hello from ${local.id}` }, finish_reason: "stop" }] });
    const [sent] = await local.calls();
    expect(sent!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(sent!.headers.accept).toBe("text/event-stream");
    expect(logs.events().find((e) => e.event === "infer_completed")).toMatchObject({ provider: "local", stream: false, completion_tokens: 3, finish_reason: "stop" });
  });

  it("assembles streamed tool calls, merged by index", async () => {
    const base = { id: "chatcmpl-tools", object: "chat.completion.chunk", created: 1, model: "local" };
    const delta = (d: Record<string, unknown>, finish: string | null = null) => ({ ...base, choices: [{ index: 0, delta: d, finish_reason: finish }] });
    const events = [
      delta({ role: "assistant", content: "" }),
      delta({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } }] }),
      delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      delta({ tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] }),
      delta({}, "tool_calls"),
      { ...base, choices: [], usage: { prompt_tokens: 9, completion_tokens: 6, total_tokens: 15 } },
    ];
    const local = await scenario([{ type: "sse", events }]);
    const res = await call({ config: chainConfig({ local: sidecarAt(local.baseUrl) }), env: { SIDECAR_TOKEN: "t0ken" }, body: chat() });
    const body = (await res.json()) as Completion;
    expect(body.choices[0]).toEqual({
      index: 0,
      message: { role: "assistant", content: null, refusal: null, tool_calls: [{ id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } }] },
      logprobs: null,
      finish_reason: "tool_calls",
    });
    expect(body.usage).toEqual({ prompt_tokens: 9, completion_tokens: 6, total_tokens: 15 });
  });

  it("fails over when the sidecar's stream breaks: nothing reached the JSON client yet", async () => {
    const local = await scenario([{ type: "sse", content: "half an answer from the sidecar", cut_after: 3, end: "reset" }]);
    // A second sidecar answers: local providers keep their places at the end of every route.
    const spare = await scenario();
    const config = chainConfig({ local: { ...sidecarAt(local.baseUrl), retries: 0 }, spare: sidecarAt(spare.baseUrl) });
    const res = await call({ config, env: { SIDECAR_TOKEN: "t0ken" }, body: chat() });
    expect(res.headers.get("x-inferrouter-provider")).toBe("spare");
    expect(((await res.json()) as Completion).choices[0]!.message.content).toBe(`Hello from ${spare.id}`);
    expect(logs.events().find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "local", category: "NetworkError" });
  });

  it("gets from the real sidecar the same answer a streaming client gets", async () => {
    const config = chainConfig({ local: realSidecar() });
    const request = { max_tokens: 8, temperature: 0 };
    const json = (await (await call({ config, env: sidecarEnv(), body: chat(request) })).json()) as Completion;
    const streamed = (await sseData(await call({ config, env: sidecarEnv(), body: chat({ ...request, stream: true }) })))
      .filter((d) => d !== "[DONE]")
      .map((d) => (JSON.parse(d) as Chunk).choices[0]?.delta.content ?? "")
      .join("");
    expect(json.object).toBe("chat.completion");
    expect(json.choices[0]!.message.content).toBe(streamed);
    expect(json.choices[0]!.finish_reason).toBe("length");
    expect(json.usage.completion_tokens).toBe(8);
  });
});

describe("the real sidecar continuing a broken cloud stream", () => {
  it("carries on the answer in the same stream: one id, one role, a finish and [DONE]", async () => {
    const answer = "The quick brown fox jumps over the lazy dog again and again";
    const cloud = await scenario([{ type: "sse", content: answer, cut_after: 5, end: "reset" }]);
    const config = chainConfig({ cloud: provider(cloud.baseUrl), local: realSidecar() });
    const res = await call({ config, env: sidecarEnv(), body: chat({ stream: true, max_tokens: 6, temperature: 0 }), headers: { "x-request-id": "sidecar-continues" } });
    const data = await sseData(res);
    expect(data.at(-1)).toBe("[DONE]");
    const all = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
    expect(new Set(all.map((chunk) => chunk.id))).toEqual(new Set([(chunks("m", answer, false)[0] as Chunk).id]));
    expect(all.filter((chunk) => chunk.choices[0]?.delta.role !== undefined)).toHaveLength(1);
    const text = all.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    const carried = "The quick brown fox ";
    expect(text.startsWith(carried)).toBe(true);
    expect(text.length).toBeGreaterThan(carried.length);
    expect(all.at(-1)!.choices[0]!.finish_reason).toBe("length");
    const mine = logs.events().filter((e) => e.request_id === "sidecar-continues");
    expect(mine.find((e) => e.event === "infer_fallback")).toMatchObject({ provider: "cloud", continued: true, carried_chars: carried.length });
    expect(mine.find((e) => e.event === "infer_completed")).toMatchObject({ provider: "local", continued: true, completion_tokens: 6, attempts: 2 });
  });
});
