// restart_on_break: a stream broken mid-answer whose later providers cannot take a prefill is
// re-asked afresh on the next one; while the new answer repeats the text the client has, nothing
// is sent, then only what follows; a new answer that departs from that text ends the stream with
// the honest error, and the client never sees the beginning twice.
import { describe, expect, it } from "vitest";
import { call, chainConfig, chat, provider, scenario, sseData } from "./harness.ts";
import { checkLogInvariant } from "./log-invariant.ts";

const logs = checkLogInvariant();
const ANSWER = Array.from({ length: 60 }, (_, i) => `word${i + 1}`).join(" ");
/** The text of the first 40 content chunks, as the broken provider sent them. */
const FIRST_40 = ANSWER.split(/(?<= )/).slice(0, 40).join("");

type Chunk = { id: string; choices: Array<{ delta: { role?: string; content?: string }; finish_reason: string | null }> };
const parsed = (data: string[]) => data.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as Chunk & { error?: { message: string; code: string } });
const textOf = (data: string[]) => parsed(data).map((c) => c.choices?.[0]?.delta.content ?? "").join("");
const terminal = () => logs.events().filter((e) => ["infer_completed", "infer_failed", "infer_cancelled"].includes(e.event));

/** A route table over a (cut after 40 content chunks) then b (no prefill), with restart_on_break. */
async function brokenThen(bSteps: Parameters<typeof scenario>[0], routeExtra: Record<string, unknown> = { restart_on_break: true }, extra: Record<string, unknown> = {}) {
  const a = await scenario([{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }]);
  const b = await scenario(bSteps);
  const config = { ...chainConfig({ a: provider(a.baseUrl), b: provider(b.baseUrl) }, extra), routes: { default: { providers: ["a", "b"], ...routeExtra } } };
  return { a, b, config };
}

describe("restart_on_break", () => {
  it("re-asks the next provider without the prefill and sends only what follows the client's text", async () => {
    const { b, config } = await brokenThen([{ type: "sse", content: ANSWER, chunk_id: "chatcmpl-other" }]);
    const data = await sseData(await call({ config, body: chat({ stream: true }) }));
    expect(textOf(data)).toBe(ANSWER);
    expect(data.filter((d) => d === "[DONE]")).toHaveLength(1);
    const chunks = parsed(data);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.filter((c) => c.choices[0]?.delta.role)).toHaveLength(1);
    // Asked afresh: the same messages as the client's, no trailing assistant message.
    const sent = (await b.calls())[0]!.body.messages as Array<{ role: string }>;
    expect(sent.map((m) => m.role)).toEqual(["user"]);
    expect(terminal()).toEqual([expect.objectContaining({ event: "infer_completed", provider: "b", continued: true, restarted: true, matched_chars: FIRST_40.length })]);
  });

  it("also works under the native relay", async () => {
    const { config } = await brokenThen([{ type: "sse", content: ANSWER }], { restart_on_break: true, stream_relay: "native" });
    const data = await sseData(await call({ config, body: chat({ stream: true }) }));
    expect(textOf(data)).toBe(ANSWER);
    expect(terminal()[0]).toMatchObject({ event: "infer_completed", restarted: true, matched_chars: FIRST_40.length });
  });

  it("ends with the honest error naming both failures when the new answer departs from the client's text", async () => {
    const { config } = await brokenThen([{ type: "sse", content: "Something else entirely, from the start" }]);
    const data = await sseData(await call({ config, body: chat({ stream: true }) }));
    expect(data).not.toContain("[DONE]");
    expect(textOf(data)).toBe(FIRST_40);
    const last = parsed(data).at(-1)!;
    expect(last.error!.code).toBe("stream_interrupted");
    expect(last.error!.message).toContain("upstream connection failed");
    expect(last.error!.message).toContain("departed from the text already sent after 0 characters");
    expect(terminal()).toEqual([expect.objectContaining({ event: "infer_failed" })]);
  });

  it("never sends a second copy of the beginning, even when the new answer departs late", async () => {
    const departsLate = `${ANSWER.split(" ").slice(0, 30).join(" ")} but then it says other things entirely`;
    const { config } = await brokenThen([{ type: "sse", content: departsLate }]);
    const data = await sseData(await call({ config, body: chat({ stream: true }) }));
    // Exactly the broken provider's 40 chunks: not one character of the repeated 30 words came again.
    expect(textOf(data)).toBe(FIRST_40);
    expect(parsed(data).at(-1)!.error!.message).toContain(`departed from the text already sent after ${ANSWER.split(" ").slice(0, 30).join(" ").length + 1} characters`);
  });

  it("follows the global restart_on_break when the route does not say", async () => {
    const { config } = await brokenThen([{ type: "sse", content: ANSWER }], {}, { restart_on_break: true });
    const data = await sseData(await call({ config, body: chat({ stream: true }) }));
    expect(textOf(data)).toBe(ANSWER);
  });

  it("is off by default: the stream ends honestly and the next provider is never asked", async () => {
    const { b, config } = await brokenThen([{ type: "sse", content: ANSWER }], {});
    const data = await sseData(await call({ config, body: chat({ stream: true }) }));
    expect(parsed(data).at(-1)!.error!.code).toBe("stream_interrupted");
    expect(await b.calls()).toHaveLength(0);
  });
});
