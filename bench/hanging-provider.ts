// node bench/hanging-provider.ts [--config PATH_TO_WRANGLER_TOML] [--timeout-ms 2000] [--requests 10]
// What a client waits behind a provider that hangs: N sequential requests to a route of a hanging
// provider (timeout_ms as given) in front of a healthy one, under wrangler dev. Prints each wait and
// the total. `--config` runs another checkout's Worker (e.g. the commit before the circuit breaker).
import { parseArgs } from "node:util";
import { fakeProviderConfig, startFakeProvider } from "../test/support/fake-provider.ts";
import { startWranglerDev } from "../test/support/wrangler-dev.ts";

const { values } = parseArgs({
  options: { config: { type: "string" }, "timeout-ms": { type: "string", default: "2000" }, requests: { type: "string", default: "10" } },
});
const timeoutMs = Number(values["timeout-ms"]);
const fake = await startFakeProvider();
await fetch(`${fake.url}/_script/hang`, { method: "POST", body: JSON.stringify({ steps: [{ type: "hang" }] }) });
await fetch(`${fake.url}/_script/ok`, { method: "POST", body: JSON.stringify({ steps: [] }) });
const provider = (id: string, extra: Record<string, unknown> = {}) => fakeProviderConfig(fake, id, extra);
const config = { routes: { default: ["hang", "ok"] }, providers: { hang: provider("hang", { timeout_ms: timeoutMs }), ok: provider("ok") } };
const dev = await startWranglerDev({ config, configPath: values.config, vars: { PROXY_API_KEYS: "sk-bench", BENCH_KEY: "sk-bench-upstream" } });
const waits: number[] = [];
try {
  for (let i = 0; i < Number(values.requests); i++) {
    const started = performance.now();
    const res = await fetch(`${dev.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer sk-bench", "content-type": "application/json" },
      body: JSON.stringify({ model: "default", messages: [{ role: "user", content: "hi" }] }),
    });
    await res.text();
    waits.push(Math.round(performance.now() - started));
    if (res.headers.get("x-inferrouter-provider") !== "ok") throw new Error(`request ${i} answered ${res.status}`);
  }
} finally {
  await dev.stop();
  await fake.close();
}
const total = waits.reduce((sum, ms) => sum + ms, 0);
console.log(JSON.stringify({ timeout_ms: timeoutMs, waits_ms: waits, total_ms: total, waited_for_timeout: waits.filter((ms) => ms >= timeoutMs).length }));
