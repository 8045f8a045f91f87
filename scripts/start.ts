// npm start: the whole system on this machine, no account and no network. wrangler dev runs the
// edge with your config (--config FILE, else ROUTER_CONFIG in .dev.vars, else wrangler.toml's
// example chain; providers without a key in .dev.vars are skipped), checked before anything starts, and
// the sidecar beside it answers as the last resort: the model from --model / INFERROUTER_MODEL,
// else a tiny model written on first run. Ctrl-C stops both.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseEnv } from "node:util";
import { readGgufFileInfo } from "node-llama-cpp";
import { parseCommandLine } from "../shared/cli.ts";
import { parseRouterConfig } from "../shared/config.ts";
import { writeTinyLlamaGguf } from "./gguf/tiny-llama.ts";
import { startProcess, type Running } from "./processes.ts";
import { loadConfigFile, secretsLines } from "./check-config.ts";

const root = new URL("../", import.meta.url).pathname;
const TINY_CONTEXT_LENGTH = 131_072;
const USAGE = `usage: npm start [-- options]
  the whole system on this machine: wrangler dev (the edge) and the sidecar (a local GGUF model)
  --config FILE       your router config, JSON or TOML (default: ROUTER_CONFIG in .dev.vars, else wrangler.toml's example)
  --model PATH_OR_URI the sidecar's GGUF (default INFERROUTER_MODEL, else a tiny offline model)
  --port N            the edge's port (default 8787)
  --sidecar-port N    the sidecar's port (default 8081)
  --context-size N    tokens per sequence the sidecar gives its model (default: sized by node-llama-cpp)
  --dev-vars FILE     local secrets, NAME=value lines (default .dev.vars)
  --state-dir DIR     local state: the tiny model, Durable Objects, the sidecar log (default .inferrouter)`;
const { values } = parseCommandLine({
  name: "npm start",
  usage: USAGE,
  options: {
    config: { type: "string" },
    model: { type: "string", default: process.env.INFERROUTER_MODEL },
    port: { type: "string", default: "8787" },
    "sidecar-port": { type: "string", default: "8081" },
    "context-size": { type: "string" },
    "dev-vars": { type: "string", default: join(root, ".dev.vars") },
    "state-dir": { type: "string", default: join(root, ".inferrouter") },
  },
  integers: { port: { min: 1, max: 65535 }, "sidecar-port": { min: 1, max: 65535 }, "context-size": { min: 16, max: 1_048_576 } },
});

/** The .dev.vars file (dotenv format, as wrangler reads it). */
function readVars(path: string): Map<string, string | undefined> {
  return new Map(existsSync(path) ? Object.entries(parseEnv(readFileSync(path, "utf8"))) : []);
}

/** First run: a random local client key, admin key and sidecar token, and a place for provider keys. */
function ensureDevVars(path: string): { proxyKey: string; adminKey: string; sidecarToken: string } {
  const vars = readVars(path);
  const added: string[] = [];
  if (!vars.get("PROXY_API_KEYS")) {
    vars.set("PROXY_API_KEYS", `sk-local-${randomBytes(18).toString("base64url")}`);
    added.push(`PROXY_API_KEYS=${vars.get("PROXY_API_KEYS")}`);
  }
  if (!vars.get("ADMIN_API_KEYS")) {
    // For /v1/quota, /v1/providers/health and the status page.
    vars.set("ADMIN_API_KEYS", `sk-admin-${randomBytes(18).toString("base64url")}`);
    added.push(`ADMIN_API_KEYS=${vars.get("ADMIN_API_KEYS")}`);
  }
  if (!vars.get("SIDECAR_TOKEN")) {
    vars.set("SIDECAR_TOKEN", randomBytes(24).toString("base64url"));
    added.push(`SIDECAR_TOKEN=${vars.get("SIDECAR_TOKEN")}`);
  }
  if (added.length) {
    const fresh = !existsSync(path);
    const header = fresh
      ? "# Local secrets for wrangler dev (git-ignored). Add provider keys to use them:\n# GROQ_API_KEY=...\n# OPENROUTER_API_KEY=...\n# GEMINI_API_KEY=...\n"
      : "";
    const before = fresh ? "" : readFileSync(path, "utf8").replace(/\n?$/, "\n");
    writeFileSync(path, `${before}${header}${added.join("\n")}\n`, { mode: 0o600 });
    console.log(`wrote ${added.map((line) => line.split("=")[0]).join(", ")} to ${path}`);
  }
  const first = (name: string) => vars.get(name)!.split(",")[0]!.trim();
  return { proxyKey: first("PROXY_API_KEYS"), adminKey: first("ADMIN_API_KEYS"), sidecarToken: vars.get("SIDECAR_TOKEN")! };
}

/** The context length a GGUF's metadata declares (0 when it cannot be read). */
async function tinyContextLength(path: string): Promise<number> {
  const info = await readGgufFileInfo(path).catch(() => undefined);
  const llama = (info?.metadata as { llama?: { context_length?: number } } | undefined)?.llama;
  return llama?.context_length ?? 0;
}

async function ensureModel(stateDir: string): Promise<string> {
  if (values.model) return values.model;
  const path = join(stateDir, "tiny.gguf");
  // One an older npm start wrote holds 32768 tokens: written again with the room Claude Code needs.
  if (!existsSync(path) || (await tinyContextLength(path)) < TINY_CONTEXT_LENGTH) {
    // Room for Claude Code's first request (about 46,000 tokens of system prompt and tools to this
    // byte vocabulary): the model's text is gibberish, but the whole request reaches it.
    await writeTinyLlamaGguf(path, { contextLength: TINY_CONTEXT_LENGTH });
    console.log(`wrote the tiny offline model to ${path} (pass --model or set INFERROUTER_MODEL for a real one)`);
  }
  return path;
}

/** Prefixes a child's output lines so the two logs stay readable side by side. */
function relay(running: Running, prefix: string) {
  let shown = running.output().length;
  const show = () => {
    const text = running.output();
    const fresh = text.slice(shown);
    const cut = fresh.lastIndexOf("\n") + 1;
    if (!cut) return;
    shown += cut;
    for (const line of fresh.slice(0, cut).split("\n").filter(Boolean)) console.log(`${prefix} ${line}`);
  };
  running.child.stdout!.on("data", show);
  running.child.stderr!.on("data", show);
}

/**
 * The config npm start runs and where it came from: --config, else ROUTER_CONFIG in .dev.vars,
 * else wrangler.toml's example. Invalid: check-config's report and exit 1, before anything starts.
 */
function chosenConfig(devVars: string): { config: { providers: Record<string, { type: string; base_url: string }> }; source: string; lines: string[] } {
  const fromVars = readVars(devVars).get("ROUTER_CONFIG");
  const path = values.config ?? (fromVars ? undefined : join(root, "wrangler.toml"));
  if (path !== undefined) {
    const loaded = loadConfigFile(path);
    if (!loaded.ok) {
      console.error(loaded.report);
      process.exit(1);
    }
    const source = values.config ? `--config ${path}` : `wrangler.toml's example [vars.ROUTER_CONFIG] (pass --config FILE or set ROUTER_CONFIG in ${devVars} for yours)`;
    return { config: loaded.raw as never, source, lines: secretsLines(loaded.config, ["start"]) };
  }
  const parsed = parseRouterConfig(fromVars);
  if (!parsed.ok) {
    console.error(`${devVars} ROUTER_CONFIG: ${parsed.message}`);
    process.exit(1);
  }
  return { config: JSON.parse(fromVars!), source: `ROUTER_CONFIG in ${devVars}`, lines: secretsLines(parsed.config, ["start"]) };
}

const stateDir = resolve(values["state-dir"]);
const devVars = resolve(values["dev-vars"]);
const chosen = chosenConfig(devVars);
console.log(`npm start: config from ${chosen.source}`);
mkdirSync(join(stateDir, "secrets"), { recursive: true, mode: 0o700 });
const { proxyKey, adminKey, sidecarToken } = ensureDevVars(devVars);
writeFileSync(join(stateDir, "secrets", "SIDECAR_TOKEN"), `${sidecarToken}\n`, { mode: 0o600 });
const model = await ensureModel(stateDir);

const children: Running[] = [];
let stopping = false;
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  await Promise.all(children.map((child) => child.stop()));
  process.exit(code);
}
process.once("SIGINT", () => void stop(0));
process.once("SIGTERM", () => void stop(0));

try {
  const sidecar = await startProcess(
    process.execPath,
    [join(root, "sidecar/main.ts"), "--model", model, "--port", values["sidecar-port"], "--secrets-dir", join(stateDir, "secrets"), "--log-file", join(stateDir, "sidecar.jsonl"), "--grace-ms", "3000", ...(values["context-size"] ? ["--context-size", values["context-size"]] : [])],
    { ready: /listening on (http:\/\/\S+)/, timeoutMs: 120_000, cwd: root },
  );
  children.push(sidecar);
  relay(sidecar, "[sidecar]");
  // Either child ending on its own ends npm start (and the other child) with an error.
  sidecar.child.once("exit", () => void stop(stopping ? 0 : 1));
  // The chosen config, with its local_gguf providers pointed at this sidecar.
  const config = chosen.config;
  for (const provider of Object.values(config.providers)) {
    if (provider.type === "local_gguf") provider.base_url = `${sidecar.url}/v1`;
  }
  const edge = await startProcess(
    process.execPath,
    [join(root, "node_modules/wrangler/bin/wrangler.js"), "dev", "--ip", "127.0.0.1", "--port", values.port, "--env-file", devVars, "--persist-to", join(stateDir, "wrangler"), "--var", `ROUTER_CONFIG:${JSON.stringify(config)}`],
    { ready: /Ready on (http:\/\/\S+)/, timeoutMs: 120_000, cwd: root, env: { WRANGLER_SEND_METRICS: "false" } },
  );
  children.push(edge);
  relay(edge, "[edge]");
  edge.child.once("exit", () => void stop(stopping ? 0 : 1));
  const url = edge.url;
  console.log(`
InferRouter is running at ${url}/v1 (the sidecar at ${sidecar.url}, model ${model})
Config: ${chosen.source}
${chosen.lines.join("\n")}
Client key: ${proxyKey}
Status page: ${url}/status (admin key: ${adminKey})

  curl ${url}/v1/chat/completions -H "authorization: Bearer ${proxyKey}" \\
    -H "content-type: application/json" -d '{"model":"default","messages":[{"role":"user","content":"Hello"}]}'

  import OpenAI from "openai";
  const client = new OpenAI({ baseURL: "${url}/v1", apiKey: "${proxyKey}" });
  const answer = await client.chat.completions.create({ model: "default", messages: [{ role: "user", content: "Hello" }] });

Provider keys go in ${devVars}; providers without one are skipped. Ctrl-C stops both.
`);
} catch (error) {
  console.error(`npm start: ${(error as Error).message}`);
  await stop(1);
}
