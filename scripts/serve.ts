// npm run serve [-- --host --port --config FILE --secrets-dir DIR --state-dir DIR --log-dir DIR]:
// InferRouter self-hosted on one machine, no Cloudflare account. The Worker is bundled as
// `wrangler deploy` would and run by plain `workerd serve` (the production runtime, no dev proxy):
// secrets are files read at request time, Durable Object state lives under --state-dir, and the
// operation log goes to stdout and to daily files under --log-dir. SIGTERM stops it (exit 0).
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseRouterConfig, type RouterConfig } from "../shared/config.ts";
import { readConfigFile, secretNames } from "./check-config.ts";
import { DailyLog, isOperationLine } from "./serve/daily-log.ts";
import { supervise } from "./serve/supervisor.ts";
import { workerdConfig } from "./serve/workerd-config.ts";
import { startWorkerd } from "./serve/workerd-process.ts";
import { bundleWorker } from "./serve/worker-project.ts";

const root = new URL("../", import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "8787" },
    config: { type: "string", default: join(root, "wrangler.toml") },
    "secrets-dir": { type: "string" },
    "state-dir": { type: "string", default: join(root, ".inferrouter/state") },
    "log-dir": { type: "string", default: join(root, ".inferrouter/logs") },
  },
});
const DOCKER_SECRETS = "/run/secrets";
const note = (message: string) => console.error(`serve: ${message}`);
function fail(message: string): never {
  note(message);
  process.exit(1);
}

/** The router config from --config, validated before anything starts (a bad one: exit 1 naming the bad path). */
function routerConfig(path: string): { raw: unknown; config: RouterConfig } {
  let raw: unknown;
  try {
    raw = readConfigFile(path);
  } catch (error) {
    fail(`${path}: ${(error as Error).message}`);
  }
  const parsed = parseRouterConfig(raw);
  if (!parsed.ok) fail(`${path}: ${parsed.message}`);
  return { raw, config: parsed.config };
}

/**
 * Without --secrets-dir and without /run/secrets (a fresh checkout, not Docker): a local secrets dir
 * beside the state dir, with a random client key and admin key written on first run, so that
 * `npm run serve` answers at once. The keys stay in their files; only the paths are printed.
 */
function localSecrets(stateDir: string): string {
  const dir = join(dirname(stateDir), "secrets");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, prefix] of [["PROXY_API_KEYS", "sk-local-"], ["ADMIN_API_KEYS", "sk-admin-"]] as const) {
    const path = join(dir, name);
    if (existsSync(path)) continue;
    writeFileSync(path, `${prefix}${randomBytes(18).toString("base64url")}\n`, { mode: 0o600 });
    note(`no ${DOCKER_SECRETS}: wrote a random ${name === "PROXY_API_KEYS" ? "client" : "admin"} key to ${path}`);
  }
  return dir;
}

const { raw, config } = routerConfig(values.config);
const stateDir = resolve(values["state-dir"]);
const logDir = resolve(values["log-dir"]);
const secretsDir = resolve(values["secrets-dir"] ?? (existsSync(DOCKER_SECRETS) ? DOCKER_SECRETS : localSecrets(stateDir)));
if (!existsSync(secretsDir)) fail(`the secrets dir ${secretsDir} does not exist: create it (one file per secret name, e.g. PROXY_API_KEYS) or pass --secrets-dir`);
const expected = [...(config.auth === "none" ? [] : ["PROXY_API_KEYS"]), "ADMIN_API_KEYS", ...secretNames(config)];
const missing = expected.filter((name) => !existsSync(join(secretsDir, name)));
if (missing.length) note(`no file in ${secretsDir} for ${missing.join(", ")} (providers without a key are skipped; the files are read at request time)`);
mkdirSync(stateDir, { recursive: true });

const bundleDir = mkdtempSync(join(tmpdir(), "inferrouter-serve-"));
const worker = bundleWorker(join(root, "wrangler.toml"), bundleDir);
worker.vars = { ...worker.vars, ROUTER_CONFIG: raw };
const configPath = join(bundleDir, "config.capnp");
writeFileSync(configPath, workerdConfig({ worker, address: `${values.host}:${values.port}`, stateDir, readDirs: { SECRETS_DIR: secretsDir, LOGS_DIR: logDir } }));

const log = new DailyLog(logDir);
const onConsole = (message: string, level: string) => {
  if (!isOperationLine(message)) return void process.stderr.write(`workerd: ${level}: ${message}\n`);
  log.write(message);
  process.stdout.write(`${message}\n`);
};
const host = values.host.includes(":") ? `[${values.host}]` : values.host;
const supervisor = supervise({
  port: Number(values.port),
  log: note,
  start: (port) => startWorkerd({ configPath, address: `${host}:${port}`, onConsole }),
});

let exiting = false;
async function exit(code: number) {
  if (exiting) return;
  exiting = true;
  log.close();
  rmSync(bundleDir, { recursive: true, force: true });
  process.exit(code);
}
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    note(`${signal}, stopping workerd`);
    void supervisor.stop().then(() => exit(0), () => exit(0));
  });
}
void supervisor.done.then(exit, (error: Error) => {
  note(error.message);
  void exit(1);
});

const port = await supervisor.ready.catch(() => undefined);
if (port !== undefined) {
  note(`InferRouter (workerd ${supervisor.current()?.pid}) listening on http://${host}:${port}`);
  note(`state ${stateDir}, logs ${logDir}/operations-YYYY-MM-DD.jsonl, secrets ${secretsDir}`);
}
