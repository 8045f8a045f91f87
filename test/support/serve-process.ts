// Runs `npm run serve` (or `node scripts/serve.ts`) with its own secrets, state and log dirs, for
// end-to-end tests and benchmarks.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess, type Running } from "../../scripts/processes.ts";

const root = new URL("../../", import.meta.url).pathname;

export interface ServeDirs {
  dir: string;
  secrets: string;
  state: string;
  logs: string;
  config: string;
}

/** Every dir serveDirs made, until removeServeDirs(). */
const made = new Set<string>();

/** Fresh dirs with the given secret files and ROUTER_CONFIG (written as JSON); removeServeDirs() deletes them. */
export function serveDirs(config: unknown, secrets: Record<string, string>): ServeDirs {
  const dir = mkdtempSync(join(tmpdir(), "inferrouter-serve-test-"));
  made.add(dir);
  const dirs = { dir, secrets: join(dir, "secrets"), state: join(dir, "state"), logs: join(dir, "logs"), config: join(dir, "config.json") };
  mkdirSync(dirs.secrets);
  for (const [name, value] of Object.entries(secrets)) writeFileSync(join(dirs.secrets, name), `${value}\n`);
  writeFileSync(dirs.config, JSON.stringify(config));
  return dirs;
}

/**
 * Deletes the dirs serveDirs made (call it once the processes using them are stopped: a test
 * restarts serve on the same dirs and reads the log files after a stop, so stop() keeps them).
 */
export function removeServeDirs(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}

export interface ServeProcess extends Running {
  /** The workerd pid the ready line named. */
  workerdPid: number;
}

export interface ServeOptions {
  via?: "npm" | "node";
  /** A Worker bundled ahead (`--bundle`): no bundling at start. */
  bundle?: string;
  /** More flags, e.g. --grace-ms. */
  args?: string[];
  /** Discard serve's stdout (the event lines, also in the daily files): a soak writes too many to keep. */
  ignoreStdout?: boolean;
}

export async function startServe(dirs: ServeDirs, options: ServeOptions = {}): Promise<ServeProcess> {
  const args = ["--port", "0", "--config", dirs.config, "--secrets-dir", dirs.secrets, "--state-dir", dirs.state, "--log-dir", dirs.logs, ...(options.bundle ? ["--bundle", options.bundle] : []), ...(options.args ?? [])];
  const [command, commandArgs] = options.via === "npm" ? ["npm", ["run", "--silent", "serve", "--", ...args]] : [process.execPath, [join(root, "scripts/serve.ts"), ...args]];
  const running = await startProcess(command, commandArgs, {
    ready: /InferRouter \(workerd (\d+)\) listening on (http:\/\/\S+)/,
    timeoutMs: 60_000,
    cwd: root,
    ignoreStdout: options.ignoreStdout,
  });
  return { ...running, url: running.match[2]!, workerdPid: Number(running.match[1]) };
}

/** Whether a process with this pid still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
