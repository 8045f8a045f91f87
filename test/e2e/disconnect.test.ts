// A real client disconnect under `wrangler dev`: the client drops a stream mid-way, the runtime
// tells the Worker (request.signal, from the enable_request_signal flag in wrangler.toml, and the
// cancel of the response body), and the Worker stops the upstream call and logs infer_cancelled.
// The edge tests abort with a signal of their own making; here a real connection goes away.
// Not covered here: a client that leaves before the first byte. Under wrangler dev that never
// reaches request.signal (tried: the upstream stayed open until its timeout), since wrangler's
// ProxyWorker forwards each request with a fetch that is not tied to the client's connection.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunks, type RecordedCall } from "../support/fake-provider-protocol.ts";
import { startFakeProvider, type FakeProvider } from "../support/fake-provider.ts";
import { startWranglerDev, type WranglerDev } from "../support/wrangler-dev.ts";

const KEY = "sk-e2e-disconnect";
let fake: FakeProvider;
let edge: WranglerDev;

beforeAll(async () => {
  fake = await startFakeProvider();
  // A long answer, one word every 200 ms: about 40 s if nobody stops it.
  const events = chunks("model-slow", "word ".repeat(200), false);
  await fetch(`${fake.url}/_script/slow`, { method: "POST", body: JSON.stringify({ steps: [{ type: "sse", events, gap_ms: 200 }] }) });
  const provider = (id: string) => ({ type: "openai_compatible", base_url: `${fake.url}/s/${id}/v1`, model: `model-${id}`, api_key_secret: "E2E_KEY", timeout_ms: 30_000 });
  const config = { routes: { default: ["slow"] }, providers: { slow: provider("slow") } };
  edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: KEY, E2E_KEY: "sk-e2e-upstream" } });
});

afterAll(async () => {
  await edge?.stop();
  await fake?.close();
});

const upstreamCalls = async () => (await (await fetch(`${fake.url}/_calls/slow`)).json()) as RecordedCall[];

function streamRequest(requestId: string, signal: AbortSignal) {
  return fetch(`${edge.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "x-request-id": requestId },
    body: JSON.stringify({ model: "default", stream: true, messages: [{ role: "user", content: "talk slowly" }] }),
    signal,
  });
}

/** The request's lifecycle lines, once the Worker has written its terminal one (lines arrive after the answer). */
function lifecycle(requestId: string) {
  return expect.poll(
    () => edge.events().filter((e) => e.request_id === requestId && String(e.event).startsWith("infer_")).map((e) => e.event),
    { timeout: 5_000, interval: 100 },
  );
}

describe("a client that drops a stream mid-way", () => {
  it("frees the upstream connection within seconds and is logged infer_cancelled", async () => {
    const requestId = "e2e-disconnect-1";
    const controller = new AbortController();
    const res = await streamRequest(requestId, controller.signal);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("word")) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`stream ended before any content: ${text}`);
      text += new TextDecoder().decode(value);
    }
    expect((await upstreamCalls()).map((call) => call.abandoned)).toEqual([false]);

    controller.abort();
    await expect.poll(async () => (await upstreamCalls())[0]?.abandoned, { timeout: 5_000, interval: 100 }).toBe(true);
    await lifecycle(requestId).toEqual(["infer_started", "infer_cancelled"]);
  });
});
