// One workerd process: `workerd serve CONFIG` with a control descriptor, on which workerd reports
// each socket's port once it listens (the ready signal, no polling). Its stdout carries the
// structured console lines: each one's `message` is handed on, everything else goes to stderr.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

const root = new URL("../../", import.meta.url).pathname;
export const WORKERD = `${root}node_modules/workerd/bin/workerd`;

/** How long a stop lets requests in flight finish before SIGKILL: a local generation can take this long. */
// Under 10 s, so a `docker stop` (10 s by default) ends serve itself, not a SIGKILL; compose raises it for local generations.
export const DEFAULT_GRACE_MS = 8_000;

export interface WorkerdProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  /** Resolves with the exit code (or the signal's name) once workerd has exited and its output is read. */
  exited: Promise<number | string>;
  /**
   * SIGTERM, then SIGKILL after `graceMs` (calling `onForceKill` first); resolves when the process
   * is gone and every line was handed on.
   */
  stop(graceMs?: number, onForceKill?: () => void): Promise<number | string>;
}

export interface WorkerdOptions {
  configPath: string;
  /** host:port for the `http` socket; port 0 lets workerd pick one (reported back as `port`). */
  address: string;
  /** Each console line the Worker wrote (the structured line's `message`), with its level. */
  onConsole(message: string, level: string): void;
}

/** Structured logging writes one JSON object per line; anything else is passed on as it is. */
function parseStructured(line: string): { level: string; message: string } | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const entry = JSON.parse(line) as { level?: unknown; message?: unknown };
    return typeof entry.message === "string" ? { level: String(entry.level ?? "log"), message: entry.message } : undefined;
  } catch {
    return undefined;
  }
}

function lines(stream: Readable, onLine: (line: string) => void): Promise<void> {
  const reader = createInterface({ input: stream, crlfDelay: Infinity });
  reader.on("line", onLine);
  return new Promise((resolve) => reader.once("close", resolve));
}

export async function startWorkerd(options: WorkerdOptions): Promise<WorkerdProcess> {
  const child = spawn(WORKERD, ["serve", options.configPath, "--control-fd=3", `--socket-addr=http=${options.address}`], {
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  const stdoutDone = lines(child.stdout!, (line) => {
    const entry = parseStructured(line);
    if (entry) options.onConsole(entry.message, entry.level);
    else process.stderr.write(`${line}\n`);
  });
  let portTaken = false;
  const stderrDone = lines(child.stderr!, (line) => {
    if (/bind\(\): Address already in use/.test(line)) portTaken = true;
    const entry = parseStructured(line);
    process.stderr.write(`workerd: ${entry ? `${entry.level}: ${entry.message}` : line}\n`);
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => void Promise.all([stdoutDone, stderrDone]).then(() => resolve(code ?? signal ?? "unknown"))),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const control = child.stdio[3] as Readable;
    void lines(control, (line) => {
      const message = JSON.parse(line) as { event?: string; socket?: string; port?: number };
      if (message.event === "listen" && message.socket === "http" && typeof message.port === "number") resolve(message.port);
    });
    child.once("error", reject);
    void exited.then((code) =>
      reject(new Error(portTaken ? `${options.address} is in use: pick another port with --port (or --host)` : `workerd exited (${code}) before it listened`)),
    );
  });
  const stop = async (graceMs = DEFAULT_GRACE_MS, onForceKill?: () => void) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        onForceKill?.();
        child.kill("SIGKILL");
      }, graceMs);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };
  return { child, pid: child.pid!, port, exited, stop };
}
