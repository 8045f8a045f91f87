// npm run bench:streams: what a client waits for when a stream goes wrong, on loopback under
// wrangler dev with the providers' default timeouts: a provider that sends headers and then its
// first token only after 20 s, a stream that stalls after 10 chunks (with and without a prefill
// provider after it) and a stream cut after 40 chunks. Prints a table and the JSON; never asserted.
// Written to run unchanged against an older tree too (only default keys), for before/after figures.
import { parseCommandLine } from "../shared/cli.ts";
import { fakeProviderConfig, startFakeProvider, type FakeProvider } from "../test/support/fake-provider.ts";
import type { Step } from "../test/support/fake-provider-protocol.ts";
import { startWranglerDev } from "../test/support/wrangler-dev.ts";

const { values } = parseCommandLine({
  name: "bench:streams",
  usage: "usage: npm run bench:streams [-- --label NAME]\n  --label NAME   the name of this run in the table (default current)",
  options: { label: { type: "string", default: "current" } },
});
const KEY = "sk-bench";
const ANSWER = Array.from({ length: 60 }, (_, i) => `word${i + 1}`).join(" ");

interface Row {
  scenario: string;
  ttfb_ms: number;
  total_ms: number;
  provider: string | null;
  complete: boolean;
  error: string | null;
}

async function script(fake: FakeProvider, id: string, steps: Step[]) {
  await fetch(`${fake.url}/_script/${id}`, { method: "POST", body: JSON.stringify({ steps }) });
}

/** One streamed request: time to the first byte, to the end, and whether the text is the whole answer. */
async function streamOnce(url: string, model: string, expected: string | undefined): Promise<Omit<Row, "scenario">> {
  const start = performance.now();
  const response = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "Count" }] }),
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let ttfb = -1;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (ttfb < 0) ttfb = performance.now() - start;
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  const total = performance.now() - start;
  const data = text.split("\n\n").map((frame) => frame.replace(/^data: /, "")).filter(Boolean);
  let content = "";
  let error: string | null = null;
  for (const item of data) {
    if (item === "[DONE]") continue;
    const chunk = JSON.parse(item) as { error?: { message: string }; choices?: Array<{ delta?: { content?: string } }> };
    if (chunk.error) error = chunk.error.message;
    content += chunk.choices?.[0]?.delta?.content ?? "";
  }
  return {
    ttfb_ms: Math.round(ttfb),
    total_ms: Math.round(total),
    provider: response.headers.get("x-inferrouter-provider"),
    complete: data.at(-1) === "[DONE]" && error === null && (expected === undefined || content === expected),
    error,
  };
}

const fake = await startFakeProvider();
const provider = (id: string, extra: Record<string, unknown> = {}) => fakeProviderConfig(fake, id, { retries: 0, ...extra });
// `expected`: the text a whole answer has (any provider's answer will do for the slow first token).
const scenarios: Array<{ name: string; route: string[]; expected?: string; steps: Record<string, Step[]> }> = [
  { name: "slow first token (20 s), healthy provider next", route: ["slow", "ok"], steps: { slow: [{ type: "sse", first_delay_ms: 20_000 }], ok: [] } },
  { name: "stalls after 10 chunks, no prefill provider", route: ["stall", "ok2"], expected: ANSWER, steps: { stall: [{ type: "sse", content: ANSWER, cut_after: 11, end: "hang" }], ok2: [] } },
  { name: "stalls after 10 chunks, prefill provider next", route: ["stall2", "pre"], expected: ANSWER, steps: { stall2: [{ type: "sse", content: ANSWER, cut_after: 11, end: "hang" }], pre: [{ type: "sse", content: ANSWER, prefill: true }] } },
  { name: "cut after 40 chunks, prefill provider next", route: ["cut", "pre2"], expected: ANSWER, steps: { cut: [{ type: "sse", content: ANSWER, cut_after: 41, end: "reset" }], pre2: [{ type: "sse", content: ANSWER, prefill: true }] } },
];
const providers: Record<string, unknown> = {};
const routes: Record<string, string[]> = {};
for (const [index, scenario] of scenarios.entries()) {
  routes[`s${index}`] = scenario.route;
  for (const [id, steps] of Object.entries(scenario.steps)) {
    await script(fake, id, steps);
    providers[id] = provider(id, id.startsWith("pre") ? { capabilities: ["prefill"] } : {});
  }
}
const dev = await startWranglerDev({ config: { routes, providers }, vars: { PROXY_API_KEYS: KEY, BENCH_KEY: "sk-upstream-bench" } });
const rows: Row[] = [];
try {
  for (const [index, scenario] of scenarios.entries()) {
    const row = { scenario: scenario.name, ...(await streamOnce(`${dev.url}/v1/chat/completions`, `s${index}`, scenario.expected)) };
    rows.push(row);
    console.error(JSON.stringify(row));
  }
} finally {
  await dev.stop();
  await fake.close();
}
console.log(`### ${values.label}\n\n| scenario | first byte ms | total ms | answered by | whole answer | error |\n| --- | --- | --- | --- | --- | --- |`);
for (const row of rows) console.log(`| ${row.scenario} | ${row.ttfb_ms} | ${row.total_ms} | ${row.provider} | ${row.complete ? "yes" : "no"} | ${row.error ?? ""} |`);
console.log(JSON.stringify({ label: values.label, rows }));
