// node bench/portkey.ts --portkey DIR [--rounds 5] [--requests 150]
// InferRouter's own latency beside Portkey's open-source gateway, in one run, against the same fake
// provider on loopback. Portkey is not a dependency of this project (nothing downloads at run
// time): install it yourself, e.g. `npm install --prefix /tmp/portkey @portkey-ai/gateway`, and
// pass that prefix. Portkey's gateway is self-hosted as a Node server (its npm build); InferRouter
// is self-hosted under plain workerd (as `npm run serve` runs it), beside the pass-through floor
// Worker. Each one's own cost is its p50 minus the provider called directly; InferRouter's is
// also shown over the floor Worker (what workerd itself adds to any Worker). CPU per request is
// each server process's utime + stime (/proc) over a counted run.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { parseCommandLine } from "../shared/cli.ts";
import { fakeProviderConfig, startFakeProvider } from "../test/support/fake-provider.ts";
import { KEY, post } from "./edge.ts";
import { collect, summarize, timeRequest, type Sample } from "./load.ts";
import { cpuMs, serveWorker } from "./workerd.ts";

const USAGE = `usage: npx node bench/portkey.ts --portkey DIR [--rounds N] [--requests N]
  --portkey DIR   where \`npm install --prefix DIR @portkey-ai/gateway\` was run (PORTKEY_NODE: the node that runs it)
  --rounds N      interleaved rounds (default 5)
  --requests N    requests a case a round (default 150)`;
const { values } = parseCommandLine({
  name: "bench/portkey",
  usage: USAGE,
  options: { portkey: { type: "string" }, rounds: { type: "string", default: "5" }, requests: { type: "string", default: "150" } },
  integers: { rounds: { min: 1, max: 1000 }, requests: { min: 1, max: 1_000_000 } },
});
const entry = values.portkey && join(values.portkey, "node_modules/@portkey-ai/gateway/build/start-server.js");
if (!entry || !existsSync(entry)) {
  console.error(USAGE);
  process.exit(2);
}
const root = new URL("../", import.meta.url).pathname;
const rounds = Number(values.rounds);
const perRound = Number(values.requests);
const round3 = (n: number) => Math.round(n * 1000) / 1000;

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** Portkey's gateway as its npm build runs it (`--headless`, production: no UI, no log stream). */
async function startPortkey() {
  const port = await freePort();
  const child = spawn(process.env.PORTKEY_NODE ?? process.execPath, [entry!, `--port=${port}`, "--headless"], { env: { ...process.env, NODE_ENV: "production" }, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`portkey exited ${code}`)));
    child.stdout!.on("data", (data: Buffer) => data.toString().includes("Ready for connections") && resolve());
  });
  child.stdout!.resume();
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill("SIGTERM") };
}

const fake = await startFakeProvider();
const config = { routes: { direct: ["p"] }, providers: { p: fakeProviderConfig(fake, "p") } };
const edge = await serveWorker(join(root, "wrangler.toml"), { ROUTER_CONFIG: config, PROXY_API_KEYS: KEY, BENCH_KEY: "sk-bench-upstream" }, true);
const floor = await serveWorker(join(root, "bench/floor.wrangler.toml"), { UPSTREAM: `${fake.url}/s` }, false);
const portkey = await startPortkey();

const body = (stream: boolean) => JSON.stringify({ model: "bench-model", stream, messages: [{ role: "user", content: "Say hello" }] });
// Portkey's open-source gateway is told the provider per request: OpenAI's wire at a custom host.
const viaPortkey = (stream: boolean) => () =>
  timeRequest(`${portkey.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-bench-upstream", "x-portkey-provider": "openai", "x-portkey-custom-host": `${fake.url}/s/p/v1` },
    body: body(stream),
  });
const direct = (stream: boolean) => () => timeRequest(`${fake.url}/s/p/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: body(stream) });

// Portkey 1.15.2's Node build fails every stream through a custom host (it appends its headers to
// the upstream's immutable Response: "TypeError: immutable"), so its streams are left out.
const modes: Record<string, boolean[]> = { direct: [false, true], floor: [false, true], inferrouter: [false, true], portkey: [false] };
const servers: Record<string, number | undefined> = { direct: undefined, floor: floor.running.pid, inferrouter: edge.running.pid, portkey: portkey.pid };
const cases: Record<string, (stream: boolean) => () => Promise<Sample>> = {
  direct,
  floor: (stream) => post(`${floor.url}/v1/p/v1/chat/completions`, "bench-model", stream, false),
  inferrouter: (stream) => post(`${edge.url}/v1/chat/completions`, "direct", stream),
  portkey: viaPortkey,
};
const samples: Record<string, Sample[]> = {};
const cpu: Record<string, number> = {};
try {
  for (const name of Object.keys(cases)) for (const stream of modes[name]!) await collect(cases[name]!(stream), 30);
  for (let r = 0; r < rounds; r++) {
    const names = Object.keys(cases);
    for (const name of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
      for (const stream of modes[name]!) {
        const key = `${name} ${stream ? "stream" : "json"}`;
        const pid = servers[name];
        const before = pid === undefined ? 0 : cpuMs(pid);
        const run = await collect(cases[name]!(stream), perRound);
        if (run.samples.some((s) => !s.ok)) throw new Error(`${key}: a request failed`);
        if (pid !== undefined) cpu[key] = (cpu[key] ?? 0) + cpuMs(pid) - before;
        (samples[key] ??= []).push(...run.samples);
      }
    }
    console.error(`round ${r + 1}/${rounds} done`);
  }
} finally {
  await edge.stop();
  await floor.stop();
  portkey.stop();
  await fake.close();
}

const p50 = (key: string) => summarize(samples[key]!).p50_ms;
console.log("| case | requests | p50 ms | p99 ms | own ms (p50 − direct) | CPU ms / request |\n| --- | --- | --- | --- | --- | --- |");
const rows = Object.keys(samples).map((key) => {
  const s = summarize(samples[key]!);
  const mode = key.split(" ")[1]!;
  const own = key.startsWith("direct") ? null : round3(s.p50_ms - p50(`direct ${mode}`));
  const cpuPerRequest = cpu[key] === undefined ? null : round3(cpu[key]! / s.requests);
  console.log(`| ${key} | ${s.requests} | ${s.p50_ms} | ${s.p99_ms} | ${own ?? "–"} | ${cpuPerRequest ?? "–"} |`);
  return { case: key, requests: s.requests, p50_ms: s.p50_ms, p99_ms: s.p99_ms, own_ms: own, cpu_ms_per_request: cpuPerRequest };
});
for (const mode of ["json", "stream"]) console.log(`${mode}: InferRouter over the floor Worker ${round3(p50(`inferrouter ${mode}`) - p50(`floor ${mode}`))} ms`);
console.log(JSON.stringify({ rounds, per_round: perRound, rows }));
