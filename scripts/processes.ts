// Child processes for end-to-end tests and benchmarks: start, wait for a ready line (bounded),
// collect output, stop with SIGTERM then SIGKILL. Nothing is left running.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";

export interface Running {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/** A free TCP port on 127.0.0.1 (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export async function startProcess(
  command: string,
  args: string[],
  options: { ready: RegExp; timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string; /** Discard stdout (a long run's event lines): output() then holds stderr only. */ ignoreStdout?: boolean },
): Promise<Running & { match: RegExpMatchArray }> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", options.ignoreStdout ? "ignore" : "pipe", "pipe"],
  });
  live.add(child);
  let output = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    live.delete(child);
    return child.exitCode;
  };
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} not ready within ${options.timeoutMs} ms:\n${output}`)), options.timeoutMs);
    let ready = false;
    const onData = (chunk: Buffer) => {
      // Keep the last 16 MiB: enough for any test's log, bounded for a long npm start.
      output = (output + chunk.toString()).slice(-16 * 1024 * 1024);
      if (ready) return;
      const found = output.match(options.ready);
      if (found) {
        ready = true;
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code} before it was ready:\n${output}`));
    });
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  return { url: match[1] ?? "", match, child, output: () => output, stop };
}
