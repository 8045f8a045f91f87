// npm run logs:tail [-- WORKER] [wrangler tail options] [--log-dir DIR]: the operation log of a
// deployed Worker as daily files on the free plan (Logpush needs Workers Paid). Runs `wrangler tail
// --format json`, takes InferRouter's JSON lines out of each tail event's console logs and appends
// them to `<log-dir>/operations-YYYY-MM-DD.jsonl`, as `npm run serve` does; when tail exits it
// reconnects with a bounded backoff. Tail is best effort: under heavy load it samples events, and
// events during a reconnect are not replayed.
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { DailyLog, isOperationLine } from "./serve/daily-log.ts";

const root = new URL("../", import.meta.url).pathname;
/** The wrangler CLI to run (a JS file run with this Node); tests point it at a recording player. */
const wranglerJs = process.env.INFERROUTER_WRANGLER_JS ?? join(root, "node_modules/wrangler/bin/wrangler.js");
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;
/** A connection that lasted this long counts as healthy: the next reconnect starts from the first delay. */
const HEALTHY_MS = 60_000;

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

if (import.meta.main) {
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

  const connect = () => {
    const started = Date.now();
    child = spawn(process.execPath, [wranglerJs, "tail", ...passthrough, "--format", "json"], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    const reader = createInterface({ input: child.stdout!, crlfDelay: Infinity });
    reader.on("line", eventReader(onEvent, (line) => process.stderr.write(`${line}\n`)));
    const closed = new Promise((resolve) => reader.once("close", resolve));
    const exited = new Promise<string>((resolve) => child!.once("exit", (code, signal) => resolve(String(code ?? signal))));
    const done = Promise.all([exited, closed]);
    childDone = done.then(() => undefined);
    void done.then(([code]) => {
      if (stopping) return;
      failures = Date.now() - started >= HEALTHY_MS ? 0 : failures + 1;
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (failures - 1));
      note(`wrangler tail exited (${code}); reconnecting in ${delay / 1000} s`);
      timer = setTimeout(connect, delay);
    });
  };

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
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
