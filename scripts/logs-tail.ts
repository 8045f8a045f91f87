// npm run logs:tail [-- WORKER] [wrangler tail options] [--log-dir DIR]: the operation log of a
// deployed Worker as daily files on the free plan (Logpush needs Workers Paid). Runs `wrangler tail
// --format json`, takes InferRouter's JSON lines out of each tail event's console logs and appends
// them to `<log-dir>/operations-YYYY-MM-DD.jsonl`, as `npm run serve` does; when tail exits it
// reconnects with a bounded backoff. It stops instead when reconnecting cannot help: wrangler says
// the account or the arguments are wrong (exit 1), it exited 0 at once without tailing (--help:
// exit 0), or MAX_FAILURES connections in a row ended without one event (exit 1). Tail is best
// effort: under heavy load it samples events, and events during a reconnect are not replayed.
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs, stripVTControlCharacters } from "node:util";
import { parseCommandLine } from "../shared/cli.ts";
import { DailyLog, isOperationLine } from "./serve/daily-log.ts";

const root = new URL("../", import.meta.url).pathname;
/** The wrangler CLI to run (a JS file run with this Node); tests point it at a recording player. */
const wranglerJs = process.env.INFERROUTER_WRANGLER_JS ?? join(root, "node_modules/wrangler/bin/wrangler.js");
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;
/** A connection that lasted this long counts as healthy: the next reconnect starts from the first delay. */
const HEALTHY_MS = 60_000;
/** Connections in a row that end without one event (and before HEALTHY_MS) before it gives up. */
const MAX_FAILURES = 5;
/** wrangler's words for a failure that a reconnect cannot fix: no account or token, a bad argument, no such Worker. */
const FATAL = [/CLOUDFLARE_API_TOKEN/, /Authentication error/i, /Unknown arguments?:/, /Invalid values:/, /Not enough non-option arguments/, /not logged in|wrangler login/i, /does not exist on your account|\[code: 10007\]/];

/** The line of wrangler's output that says reconnecting is pointless, if this is one. */
export function fatalMessage(line: string): string | undefined {
  const text = stripVTControlCharacters(line).replace(/^\s*✘\s*\[ERROR\]\s*/, "").trim();
  return FATAL.some((pattern) => pattern.test(text)) ? text : undefined;
}

export interface TailEvent {
  logs?: Array<{ message?: unknown[]; level?: string; timestamp?: number }>;
  event?: { type?: string; message?: string } | null;
}

/** InferRouter's event lines in one tail event, exactly as the Worker logged them. */
export function operationLines(event: TailEvent): string[] {
  return (event.logs ?? []).flatMap((entry) => (entry.message ?? []).filter(isOperationLine));
}

/**
 * `wrangler tail --format json` prints each event as indented JSON (a top-level object opens at
 * column 0 and closes with a lone `}`); one-line objects are read too. Anything else is not an event.
 */
export function eventReader(onEvent: (event: TailEvent) => void, onOther: (line: string) => void): (line: string) => void {
  let buffer = "";
  return (line) => {
    if (!buffer && !line.startsWith("{")) return onOther(line);
    buffer += `${line}\n`;
    if (!line.endsWith("}") || /^\s/.test(line)) return;
    try {
      const event = JSON.parse(buffer) as TailEvent;
      buffer = "";
      onEvent(event);
    } catch {
      if (line === "}") {
        onOther(`unreadable tail output: ${buffer.slice(0, 200)}`);
        buffer = "";
      }
    }
  };
}

/** Our own --log-dir, and every other argument passed on to `wrangler tail` in order. */
function splitArgs(args: string[]): { logDir: string; passthrough: string[] } {
  const { values, tokens } = parseArgs({ args, options: { "log-dir": { type: "string" } }, strict: false, allowPositionals: true, tokens: true });
  const drop = new Set<number>();
  for (const token of tokens) {
    if (token.kind === "option" && token.name === "log-dir") {
      drop.add(token.index);
      if (token.inlineValue === false) drop.add(token.index + 1);
    }
  }
  const logDir = typeof values["log-dir"] === "string" ? values["log-dir"] : join(root, ".inferrouter/logs");
  return { logDir: resolve(logDir), passthrough: args.filter((_, i) => !drop.has(i)) };
}

/** `wrangler tail`'s own flags (wrangler 4's `tail --help`), so a misspelt one is caught here with a suggestion. */
const WRANGLER_TAIL_FLAGS = {
  config: { type: "string", short: "c" },
  cwd: { type: "string" },
  env: { type: "string", short: "e" },
  "env-file": { type: "string", multiple: true },
  profile: { type: "string" },
  version: { type: "boolean", short: "v" },
  format: { type: "string" },
  status: { type: "string", multiple: true },
  header: { type: "string" },
  method: { type: "string", multiple: true },
  "sampling-rate": { type: "string" },
  search: { type: "string" },
  ip: { type: "string", multiple: true },
  "version-id": { type: "string" },
} as const;

const USAGE = `usage: npm run logs:tail [-- --log-dir DIR] [-- WRANGLER_TAIL_ARGS...]
  runs wrangler tail against the deployed Worker and writes its operation log to DIR/operations-YYYY-MM-DD.jsonl
  (default .inferrouter/logs), reconnecting when the tail drops; the free plan's way to keep the log
  every other argument goes to wrangler tail (npx wrangler tail --help): WORKER and
  ${Object.keys(WRANGLER_TAIL_FLAGS).map((flag) => `--${flag}`).join(", ")}`;

if (import.meta.main) {
  // Checked against wrangler tail's flags and ours first: a typo gets a suggestion (exit 2), not a wrangler run.
  parseCommandLine({ name: "logs:tail", usage: USAGE, allowPositionals: true, options: { ...WRANGLER_TAIL_FLAGS, "log-dir": { type: "string" } } });
  const { logDir, passthrough } = splitArgs(process.argv.slice(2));
  const note = (message: string) => console.error(`logs:tail: ${message}`);
  const log = new DailyLog(logDir);
  note(`writing ${logDir}/operations-YYYY-MM-DD.jsonl from wrangler tail`);
  note("wrangler tail is best effort: under heavy load Cloudflare samples the events it sends, and events during a reconnect are lost; for a complete log use Logpush (Workers Paid plan) or self-host with npm run serve");

  let child: ChildProcess | undefined;
  /** Resolves once the current wrangler has exited and all its output was read. */
  let childDone: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  let failures = 0;
  const onEvent = (event: TailEvent) => {
    if (event.event?.type === "overload" || event.event?.type === "overload-stop") note(`tail says: ${event.event.message}`);
    for (const line of operationLines(event)) {
      log.write(line);
      process.stdout.write(`${line}\n`);
    }
  };

  const stop = (code: number, message: string) => {
    note(message);
    log.close();
    process.exit(code);
  };

  const connect = () => {
    const started = Date.now();
    let events = 0;
    let fatal: string | undefined;
    /** wrangler's other output goes on to stderr, read for the errors a reconnect cannot fix. */
    const other = (line: string) => {
      fatal ??= fatalMessage(line);
      process.stderr.write(`${line}\n`);
    };
    child = spawn(process.execPath, [wranglerJs, "tail", ...passthrough, "--format", "json"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    const reader = createInterface({ input: child.stdout!, crlfDelay: Infinity });
    reader.on("line", eventReader((event) => (events++, onEvent(event)), other));
    const errors = createInterface({ input: child.stderr!, crlfDelay: Infinity });
    errors.on("line", other);
    const closed = Promise.all([new Promise((resolve) => reader.once("close", resolve)), new Promise((resolve) => errors.once("close", resolve))]);
    const exited = new Promise<string>((resolve) => child!.once("exit", (code, signal) => resolve(String(code ?? signal))));
    const done = Promise.all([exited, closed]);
    childDone = done.then(() => undefined);
    void done.then(([code]) => {
      if (stopping) return;
      const healthy = events > 0 || Date.now() - started >= HEALTHY_MS;
      if (fatal) return stop(1, `wrangler tail cannot run: ${fatal} (log in with wrangler login or set CLOUDFLARE_API_TOKEN, check the arguments; not reconnecting)`);
      if (code === "0" && !healthy) return stop(0, "wrangler tail exited (0) without tailing; not reconnecting");
      failures = healthy ? 0 : failures + 1;
      if (failures >= MAX_FAILURES) return stop(1, `wrangler tail ended ${failures} times in a row without delivering an event (last exit ${code}); giving up`);
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, failures - 1));
      note(`wrangler tail exited (${code}); reconnecting in ${delay / 1000} s`);
      timer = setTimeout(connect, delay);
    });
  };

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    // on, not once: a second signal during the stop is ignored rather than killing us with wrangler left running.
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      clearTimeout(timer);
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const kill = setTimeout(() => child?.kill("SIGKILL"), 5_000);
      void childDone.then(() => {
        clearTimeout(kill);
        log.close();
        process.exit(0);
      });
    });
  }
  connect();
}
