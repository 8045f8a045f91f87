// The Responses API's own cost: the same scripted provider answered through /v1/chat/completions
// and through /v1/responses (translated to chat and back), JSON and streamed, under one
// `wrangler dev`. The difference is the translation. Report only; not part of npm test or npm run bench.
//   node bench/responses.ts [--requests N]
import { parseArgs } from "node:util";
import { startFakeProvider } from "../test/support/fake-provider.ts";
import { startWranglerDev } from "../test/support/wrangler-dev.ts";
import { summarize, timeRequest, type Sample, type Summary } from "./load.ts";

const { values } = parseArgs({ options: { requests: { type: "string", default: "300" } } });
const requests = Number(values.requests);
const KEY = "sk-bench-responses";

const fake = await startFakeProvider();
// A longer answer than the default, so a stream has some chunks to translate.
const content = "The quick brown fox jumps over the lazy dog. ".repeat(8).trim();
const config = {
  routes: { default: ["p"] },
  providers: { p: { type: "openai_compatible", base_url: `${fake.url}/s/bench/v1`, model: "m", api_key_secret: "BENCH_KEY" } },
};
const edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: KEY, BENCH_KEY: "sk-upstream" } });

const post = (path: string, body: unknown) => () =>
  timeRequest(`${edge.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
/** Chat and Responses requests alternated, so load from elsewhere on the machine hits both alike. */
async function pair(chat: () => Promise<Sample>, responses: () => Promise<Sample>): Promise<[Summary, Summary]> {
  for (let i = 0; i < 20; i++) await Promise.all([chat(), responses()]);
  const samples: [Sample[], Sample[]] = [[], []];
  for (let i = 0; i < requests; i++) {
    samples[0].push(await chat());
    samples[1].push(await responses());
  }
  return [summarize(samples[0]), summarize(samples[1])];
}

// One scripted step, repeated for every call: the longer answer, as JSON and then as a stream.
await fetch(`${fake.url}/_script/bench`, { method: "POST", body: JSON.stringify({ steps: [{ type: "json", content }] }) });
const [chatJson, responsesJson] = await pair(post("/v1/chat/completions", { model: "default", messages: [{ role: "user", content: "Hi" }] }), post("/v1/responses", { model: "default", input: "Hi" }));
await fetch(`${fake.url}/_script/bench`, { method: "POST", body: JSON.stringify({ steps: [{ type: "sse", content }] }) });
const [chatStream, responsesStream] = await pair(
  post("/v1/chat/completions", { model: "default", stream: true, messages: [{ role: "user", content: "Hi" }] }),
  post("/v1/responses", { model: "default", input: "Hi", stream: true }),
);

await edge.stop();
await fake.close();

const row = (name: string, s: Summary) => `| ${name} | ${s.p50_ms} | ${s.p99_ms} | ${s.ttfb_p50_ms} | ${s.errors} |`;
const diff = (a: Summary, b: Summary) => `| ${(b.p50_ms - a.p50_ms).toFixed(3)} | ${(b.ttfb_p50_ms - a.ttfb_p50_ms).toFixed(3)} |`;
console.log(`${requests} sequential requests each, wrangler dev on loopback, ${content.split(" ").length}-word answer\n`);
console.log("| path | p50 ms | p99 ms | TTFB p50 ms | errors |\n| --- | --- | --- | --- | --- |");
console.log([row("chat JSON", chatJson), row("responses JSON", responsesJson), row("chat stream", chatStream), row("responses stream", responsesStream)].join("\n"));
console.log("\n| translation cost | p50 ms | TTFB p50 ms |\n| --- | --- | --- |");
console.log(`| JSON ${diff(chatJson, responsesJson)}\n| stream ${diff(chatStream, responsesStream)}`);
