// node bench/profile.ts [--case json|burst|long] [--requests N]
// A CPU profile of InferRouter under plain workerd (the bundle unminified, the V8 inspector's
// sampling profiler at 50 µs), for one request kind, printed as self time by function. It sees the
// isolate's thread only: what the workerd process spends outside JavaScript (its streams, sockets,
// pipes) is not in it, so compare its busy time with the process CPU `npm run bench:stream-cpu` reports.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCommandLine } from "../shared/cli.ts";
import { workerdConfig } from "../scripts/serve/workerd-config.ts";
import { WORKERD } from "../scripts/serve/workerd-process.ts";
import { bundleWorker } from "../scripts/serve/worker-project.ts";
import { freePort } from "../scripts/processes.ts";
import { startFakeProvider } from "../test/support/fake-provider.ts";
import { benchRouterConfig, KEY, post, script } from "./edge.ts";
import { collect } from "./load.ts";
import { longStream } from "./workerd.ts";

const USAGE = `usage: npx node bench/profile.ts [--case json|burst|long] [--requests N]
  --case NAME     json (a JSON request), burst (1,000 frames written at once), long (one frame per write); native relay for streams (default burst)
  --requests N    requests profiled (default 1500 json, 300 burst, 30 long)`;
const { values } = parseCommandLine({
  name: "bench/profile",
  usage: USAGE,
  options: { case: { type: "string", default: "burst" }, requests: { type: "string" } },
  integers: { requests: { min: 1, max: 1_000_000 } },
});
const CASES = { json: { route: "direct", stream: false, requests: 1500 }, burst: { route: "burst_native", stream: true, requests: 300 }, long: { route: "long_native", stream: true, requests: 30 } } as const;
const chosen = CASES[values.case as keyof typeof CASES];
if (!chosen) {
  console.error(USAGE);
  process.exit(2);
}
const root = new URL("../", import.meta.url).pathname;

const fake = await startFakeProvider();
const config = await benchRouterConfig(fake);
await script(fake, "long", [{ type: "sse", events: longStream() }]);
await script(fake, "burst", [{ type: "raw", status: 200, body: `${longStream().map((e) => `data: ${JSON.stringify(e)}\n\n`).join("")}data: [DONE]\n\n`, headers: { "content-type": "text/event-stream" } }]);
const routes = { ...config.routes, burst_native: { providers: ["burst"], stream_relay: "native" }, long_native: { providers: ["long"], stream_relay: "native" } };
const dir = mkdtempSync(join(tmpdir(), "inferrouter-profile-"));
const worker = bundleWorker(join(root, "wrangler.toml"), dir, ["--no-minify"]);
worker.vars = { ...worker.vars, ROUTER_CONFIG: { ...config, routes }, PROXY_API_KEYS: KEY, BENCH_KEY: "sk-bench-upstream" };
mkdirSync(join(dir, "state"));
const [port, inspector] = [await freePort(), await freePort()];
writeFileSync(join(dir, "config.capnp"), workerdConfig({ worker, address: `127.0.0.1:${port}`, stateDir: join(dir, "state") }));
const child = spawn(WORKERD, ["serve", join(dir, "config.capnp"), `--socket-addr=http=127.0.0.1:${port}`, `--inspector-addr=127.0.0.1:${inspector}`], { stdio: ["ignore", "ignore", "ignore"] });
const send = post(`http://127.0.0.1:${port}/v1/chat/completions`, chosen.route, chosen.stream);
try {
  // Ready once it answers.
  for (let tries = 0; !(await send().catch(() => ({ ok: false }))).ok; tries++) {
    if (tries > 100) throw new Error("workerd did not answer");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const [target] = (await (await fetch(`http://127.0.0.1:${inspector}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const ws = new WebSocket(target!.webSocketDebuggerUrl);
  await new Promise((resolve) => ws.addEventListener("open", resolve));
  const waiting = new Map<number, (result: unknown) => void>();
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  });
  let next = 0;
  const command = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve) => {
      const id = ++next;
      waiting.set(id, resolve as (result: unknown) => void);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await collect(send, 50);
  await command("Profiler.enable");
  await command("Profiler.setSamplingInterval", { interval: 50 });
  await command("Profiler.start");
  const requests = Number(values.requests ?? chosen.requests);
  await collect(send, requests);
  type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number } };
  const { profile } = await command<{ profile: { nodes: Node[]; samples: number[] } }>("Profiler.stop");
  ws.close();
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfTime = new Map<string, number>();
  let busy = 0;
  for (const sample of profile.samples) {
    const frame = nodes.get(sample)!.callFrame;
    if (frame.functionName === "(idle)") continue;
    busy++;
    const where = `${frame.functionName || "(anonymous)"} ${frame.url ? `index.js:${frame.lineNumber + 1}` : "(native)"}`;
    selfTime.set(where, (selfTime.get(where) ?? 0) + 1);
  }
  console.log(`${values.case}: ${requests} requests, ${((busy * 0.05) / requests).toFixed(3)} ms of the isolate's busy samples a request (bundle: ${join(dir, "index.js")})`);
  for (const [where, samples] of [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${((samples / busy) * 100).toFixed(1).padStart(5)} %  ${where}`);
} finally {
  child.kill("SIGKILL");
  await fake.close();
}
