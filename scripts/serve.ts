// npm run serve [-- --host --port --config FILE --secrets-dir DIR --state-dir DIR --log-dir DIR
//   --bundle DIR --grace-ms N]:
// InferRouter self-hosted on one machine, no Cloudflare account. The Worker is bundled as
// `wrangler deploy` would (or taken ready-made from --bundle) and run by plain `workerd serve` (the
// production runtime, no dev proxy): secrets are files read at request time, Durable Object state
// lives under --state-dir, and the operation log goes to stdout and to daily files under --log-dir.
// SIGTERM/SIGINT stop it (exit 0), at any point, also during start-up; a second one is ignored.
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseCommandLine } from "../shared/cli.ts";
import { parseRouterConfig, type RouterConfig } from "../shared/config.ts";
import { configToRun, loadConfigFile, secretNames } from "./check-config.ts";
import { DailyLog, isOperationLine } from "./serve/daily-log.ts";
import { OpenRequests } from "./serve/open-requests.ts";
import { supervise, type Supervisor } from "./serve/supervisor.ts";
import { workerdConfig } from "./serve/workerd-config.ts";
import { DEFAULT_GRACE_MS, startWorkerd, type WorkerdProcess } from "./serve/workerd-process.ts";
import { readWorkerProject, startBundle, type Bundling, type WorkerProject } from "./serve/worker-project.ts";

const root = new URL("../", import.meta.url).pathname;
const USAGE = `usage: npm run serve [-- options]
  InferRouter self-hosted: the Worker under plain workerd, secrets as files, logs as daily files
  --config FILE       the router config: a JSON or TOML file, or a wrangler.toml (default: the config
                      npm run deploy bundled into --bundle DIR, else wrangler.toml's example)
  --host HOST         bind address (default 127.0.0.1)
  --port N            port (default 8787)
  --secrets-dir DIR   one file per secret (default /run/secrets, else .inferrouter/secrets)
  --state-dir DIR     Durable Object state (default .inferrouter/state)
  --log-dir DIR       daily operation log files (default .inferrouter/logs)
  --bundle DIR        a Worker bundled ahead (wrangler deploy --dry-run --outdir DIR)
  --grace-ms N        on SIGTERM, how long requests in flight get (default ${DEFAULT_GRACE_MS})`;
const { values } = parseCommandLine({
  name: "serve",
  usage: USAGE,
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "8787" },
    config: { type: "string" },
    "secrets-dir": { type: "string" },
    "state-dir": { type: "string", default: join(root, ".inferrouter/state") },
    "log-dir": { type: "string", default: join(root, ".inferrouter/logs") },
    bundle: { type: "string" },
    "grace-ms": { type: "string", default: String(DEFAULT_GRACE_MS) },
  },
  integers: { port: { min: 0, max: 65535 }, "grace-ms": { min: 0, max: 3_600_000 } },
});
const DOCKER_SECRETS = "/run/secrets";
const wranglerToml = join(root, "wrangler.toml");
const note = (message: string) => console.error(`serve: ${message}`);

// What a stop has to undo, filled in as start-up goes on.
let bundleDir: string | undefined;
let bundling: Bundling | undefined;
let supervisor: Supervisor | undefined;
let log: DailyLog | undefined;
let stopping = false;

function exit(code: number): never {
  log?.close();
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  process.exit(code);
}
function fail(message: string): never {
  note(message);
  exit(1);
}

const graceMs = Number(values["grace-ms"]);

// Installed before anything starts: a signal during bundling kills the bundler and cleans up, and a
// signal after the first is noted and ignored (the first stop is already under way), so Node's
// default action (exit 143, workerd left running) never applies.
function onSignal(signal: NodeJS.Signals) {
  if (stopping) return note(`${signal} again: already stopping (requests in flight get up to ${graceMs} ms)`);
  stopping = true;
  if (supervisor) {
    note(`${signal}, stopping workerd`);
    void supervisor.stop(graceMs).then(() => exit(0), () => exit(0));
  } else {
    note(`${signal} during start-up: stopping`);
    bundling?.kill();
    void (bundling?.project ?? Promise.resolve()).catch(() => undefined).then(() => exit(0));
  }
}
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, onSignal);

/** The router config from --config, validated before anything starts (a bad one: check-config's report, exit 1). */
function routerConfig(path: string): { raw: unknown; config: RouterConfig } {
  const loaded = loadConfigFile(path);
  if (!loaded.ok) fail(loaded.report);
  return loaded;
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

/** The Worker in `dir`: copied from --bundle (built ahead, e.g. in the image), or bundled now. */
async function workerIn(dir: string): Promise<WorkerProject | undefined> {
  if (values.bundle) {
    const ready = readWorkerProject(wranglerToml, resolve(values.bundle));
    if (!existsSync(ready.modulePath)) fail(`no bundled Worker at ${ready.modulePath}: build it with wrangler deploy --dry-run --outdir ${values.bundle}`);
    cpSync(resolve(values.bundle), dir, { recursive: true });
    return readWorkerProject(wranglerToml, dir);
  }
  bundling = startBundle(wranglerToml, dir);
  note(`bundling the Worker (wrangler deploy --dry-run, pid ${bundling.pid})`);
  try {
    return await bundling.project;
  } catch (error) {
    if (stopping) return undefined; // killed by a signal: its handler exits
    fail((error as Error).message);
  }
}

const configChoice = configToRun(values.config, values.bundle, wranglerToml);
const { raw, config } = routerConfig(configChoice.path);
note(`config ${configChoice.path} (${configChoice.source})`);
/** Per start: lets serve's stop ask the Worker to write its pending usage history first (edge/routes/usage-flush.ts). */
const flushToken = randomBytes(16).toString("hex");
const stateDir = resolve(values["state-dir"]);
const logDir = resolve(values["log-dir"]);
const secretsDir = resolve(values["secrets-dir"] ?? (existsSync(DOCKER_SECRETS) ? DOCKER_SECRETS : localSecrets(stateDir)));
if (!existsSync(secretsDir)) fail(`the secrets dir ${secretsDir} does not exist: create it (one file per secret name, e.g. PROXY_API_KEYS) or pass --secrets-dir`);
const expected = [...(config.auth === "none" ? [] : ["PROXY_API_KEYS"]), "ADMIN_API_KEYS", ...secretNames(config)];
const missing = expected.filter((name) => !existsSync(join(secretsDir, name)));
if (missing.length) note(`no file in ${secretsDir} for ${missing.join(", ")} (providers without a key are skipped; the files are read at request time)`);
mkdirSync(stateDir, { recursive: true });

bundleDir = mkdtempSync(join(tmpdir(), "inferrouter-serve-"));
const worker = await workerIn(bundleDir);
if (worker && !stopping) {
  worker.vars = { ...worker.vars, ROUTER_CONFIG: raw, USAGE_FLUSH_TOKEN: flushToken };
  const configPath = join(bundleDir, "config.capnp");
  writeFileSync(configPath, workerdConfig({ worker, address: `${values.host}:${values.port}`, stateDir, readDirs: { SECRETS_DIR: secretsDir, LOGS_DIR: logDir } }));
  run(configPath);
}

/**
 * workerd does not wait for a waitUntil timer on SIGTERM, so the usage batch (written every 2 s)
 * is written on request before the stop; requests still open then write theirs as they end.
 */
async function flushHistory(address: string): Promise<void> {
  try {
    const res = await fetch(`http://${address}/internal/usage/flush`, { method: "POST", headers: { authorization: `Bearer ${flushToken}` }, signal: AbortSignal.timeout(5_000) });
    if (!res.ok) note(`writing the usage history before the stop: HTTP ${res.status}`);
  } catch (error) {
    note(`writing the usage history before the stop failed: ${(error as Error).message}`);
  }
}

function run(configPath: string) {
  const daily = (log = new DailyLog(logDir));
  const open = new OpenRequests();
  const emit = (line: string) => {
    daily.write(line);
    process.stdout.write(`${line}\n`);
  };
  const onConsole = (message: string, level: string) => {
    if (!isOperationLine(message)) return void process.stderr.write(`workerd: ${level}: ${message}\n`);
    open.see(message);
    emit(message);
  };
  /** A workerd whose `exited` also ends, in the log, the requests it left open (killed or crashed). */
  const start = async (address: string): Promise<WorkerdProcess> => {
    const child = await startWorkerd({ configPath, address, onConsole });
    const exited = child.exited.then((code) => {
      if (open.size) note(`workerd exited (${code}) with ${open.size} request(s) open: logging them as infer_cancelled`);
      const message = stopping ? `ended by serve's shutdown: workerd killed after --grace-ms ${graceMs}` : `workerd exited (${code}) during the request`;
      for (const line of open.endAll(stopping ? "serve_shutdown" : "workerd_exited", message)) emit(line);
      return code;
    });
    const stop = async (grace?: number, onForceKill?: () => void) => {
      if (child.child.exitCode === null) await flushHistory(`${connectHost}:${child.port}`);
      return child.stop(grace, onForceKill).then(() => exited);
    };
    return { ...child, exited, stop };
  };
  const host = values.host.includes(":") ? `[${values.host}]` : values.host;
  // Where serve itself reaches workerd: a wildcard address is not one to connect to.
  const connectHost = values.host === "0.0.0.0" || values.host === "::" ? "127.0.0.1" : host;
  supervisor = supervise({ port: Number(values.port), log: note, start: (port) => start(`${host}:${port}`) });
  void supervisor.done.then(exit, (error: Error) => fail(error.message));
  void supervisor.ready.then(
    (port) => {
      note(`InferRouter (workerd ${supervisor?.current()?.pid}) listening on http://${host}:${port}`);
      note(`state ${stateDir}, logs ${logDir}/operations-YYYY-MM-DD.jsonl, secrets ${secretsDir}`);
    },
    () => undefined,
  );
}
