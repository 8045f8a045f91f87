// Parallel sequences, the bounded queue and cancellation, on the real engine. Long generations are
// greedy (temperature 0), which the tiny model never ends by itself, so they run until aborted.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Sidecar } from "../../sidecar/sidecar.ts";
import { client, createWorkspace, eventually, health, startLongStream, startTestSidecar, type Workspace } from "./harness.ts";

let workspace: Workspace;
const running: Sidecar[] = [];
const streams: Array<{ abort: () => void }> = [];

beforeAll(async () => {
  workspace = await createWorkspace();
});
afterEach(() => {
  for (const stream of streams.splice(0)) stream.abort();
});
afterAll(async () => {
  await Promise.all(running.map((s) => s.close(500)));
  await workspace?.cleanup();
});

/** A JSON chat request sent without waiting: its Response, or the error when it was aborted. */
function send(sidecar: Sidecar, requestId: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Response | unknown> {
  return fetch(`${sidecar.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${workspace.token}`, "content-type": "application/json", "x-request-id": requestId },
    body: JSON.stringify({ model: "local", ...body }),
    signal,
  }).catch((error: unknown) => error);
}

async function start(options: { parallel: number; maxQueue: number }): Promise<Sidecar> {
  // A large context keeps the greedy generations going for many seconds unless aborted.
  const sidecar = await startTestSidecar(workspace, { ...options, contextSize: 32768 });
  running.push(sidecar);
  return sidecar;
}

describe("concurrency", () => {
  it("runs two requests at once with --parallel 2", async () => {
    const sidecar = await start({ parallel: 2, maxQueue: 4 });
    streams.push(await startLongStream(sidecar, workspace.token, "par-a"));
    streams.push(await startLongStream(sidecar, workspace.token, "par-b"));
    // Both produced output while neither finished: two sequences generate side by side.
    expect(await health(sidecar, workspace.token)).toMatchObject({ parallel: 2, busy: 2, queued: 0 });

    // And two ordinary requests complete together.
    const openai = client(sidecar, workspace.token);
    for (const stream of streams.splice(0)) stream.abort();
    await eventually(async () => (await health(sidecar, workspace.token)).busy === 0, "slots to free");
    const answers = await Promise.all(
      [1, 2].map((seed) => openai.chat.completions.create({ model: "local", messages: [{ role: "user", content: "hi" }], max_tokens: 8, seed })),
    );
    expect(answers.map((a) => a.usage!.completion_tokens)).toEqual([8, 8]);
  });

  it("queues beyond the slots and answers 503 with retry-after when the queue is full", async () => {
    const sidecar = await start({ parallel: 1, maxQueue: 1 });
    streams.push(await startLongStream(sidecar, workspace.token, "queue-running"));

    const queued = send(sidecar, "queue-waiting", { messages: [{ role: "user", content: "wait" }], max_tokens: 4 });
    await eventually(async () => (await health(sidecar, workspace.token)).queued === 1, "the second request to queue");

    const full = (await send(sidecar, "queue-full", { messages: [{ role: "user", content: "no room" }], max_tokens: 4 })) as Response;
    expect(full.status).toBe(503);
    expect(full.headers.get("retry-after")).toBe("1");
    expect(await full.json()).toMatchObject({ error: { type: "server_error", code: "queue_full", param: null } });

    // The queued request gets the slot once the running one goes away, and completes.
    streams.splice(0).forEach((s) => s.abort());
    const answer = await queued;
    expect(answer).toBeInstanceOf(Response);
    expect((answer as Response).status).toBe(200);
    expect(await (answer as Response).json()).toMatchObject({ usage: { completion_tokens: 4 } });
  });

  it("a queued client that leaves gives up its place and is logged cancelled", async () => {
    const sidecar = await start({ parallel: 1, maxQueue: 2 });
    streams.push(await startLongStream(sidecar, workspace.token, "queue-holder"));
    const leaving = new AbortController();
    const queued = send(sidecar, "queue-leaver", { messages: [{ role: "user", content: "wait" }], max_tokens: 4 }, leaving.signal);
    await eventually(async () => (await health(sidecar, workspace.token)).queued === 1, "the request to queue");
    leaving.abort();
    expect(await queued).toBeInstanceOf(Error);
    await eventually(async () => (await health(sidecar, workspace.token)).queued === 0, "the queue to empty");
    const events = await eventually(async () => {
      const mine = (await workspace.events()).filter((e) => e.request_id === "queue-leaver");
      return mine.length === 2 ? mine : undefined;
    }, "the leaver's terminal event");
    expect(events.map((e) => e.event)).toEqual(["infer_started", "infer_cancelled"]);
  });

  it("a client that disconnects stops its generation and frees its slot", async () => {
    const sidecar = await start({ parallel: 1, maxQueue: 0 });
    const stream = await startLongStream(sidecar, workspace.token, "abort-me");
    expect((await health(sidecar, workspace.token)).busy).toBe(1);
    stream.abort();
    await eventually(async () => (await health(sidecar, workspace.token)).busy === 0, "the slot to free");

    const openai = client(sidecar, workspace.token);
    const next = await openai.chat.completions.create({ model: "local", messages: [{ role: "user", content: "next" }], max_tokens: 3, temperature: 0 });
    expect(next.choices[0]!.finish_reason).toBe("length");

    const events = await eventually(async () => {
      const all = await workspace.events();
      return all.some((e) => e.request_id === "abort-me" && e.event === "infer_cancelled") && all;
    }, "the infer_cancelled line");
    const mine = events.filter((e) => e.request_id === "abort-me").map((e) => e.event);
    expect(mine).toEqual(["infer_started", "infer_cancelled"]);
  });

  it("a non-streaming client that disconnects frees its slot too", async () => {
    const sidecar = await start({ parallel: 1, maxQueue: 0 });
    const controller = new AbortController();
    const pending = send(sidecar, "abort-json", { messages: [{ role: "user", content: "long" }], temperature: 0 }, controller.signal);
    await eventually(async () => (await health(sidecar, workspace.token)).busy === 1, "the request to start");
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await eventually(async () => (await health(sidecar, workspace.token)).busy === 0, "the slot to free");
    await eventually(
      async () => (await workspace.events()).some((e) => e.request_id === "abort-json" && e.event === "infer_cancelled"),
      "the infer_cancelled line",
    );
  });

  it("closes the connections of answers finished while it drains, and takes no new ones", async () => {
    const sidecar = await startTestSidecar(workspace, { parallel: 2, maxQueue: 4, contextSize: 32768 });
    const stream = await startLongStream(sidecar, workspace.token, "drain-running");
    const finishing = send(sidecar, "drain-finishing", { messages: [{ role: "user", content: "count" }], max_tokens: 1500, temperature: 0 }) as Promise<Response>;
    await eventually(async () => (await health(sidecar, workspace.token)).busy === 2, "both requests to run");
    const closed = sidecar.close(10_000);
    const answer = await finishing;
    expect(answer.status).toBe(200);
    // Its keep-alive socket is not reused for new work (cloudflared would otherwise keep sending).
    expect(answer.headers.get("connection")).toBe("close");
    await answer.json();
    const late = await fetch(`${sidecar.url}/health`, { headers: { authorization: `Bearer ${workspace.token}` } }).catch((error: unknown) => error);
    expect(late).toBeInstanceOf(Error);
    stream.abort();
    await closed;
    const events = await workspace.events();
    expect(events.filter((e) => e.request_id === "drain-finishing").map((e) => e.event)).toEqual(["infer_started", "infer_completed"]);
    expect(events.filter((e) => e.request_id === "drain-running").map((e) => e.event)).toEqual(["infer_started", "infer_cancelled"]);
  });
});
