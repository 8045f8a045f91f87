// Keeps one workerd running: a crash is restarted at once on the same port, at most `maxRestarts`
// times in `windowMs` (then it gives up, exit code 1); every restart is logged. stop() ends it.
import { DEFAULT_GRACE_MS, type WorkerdProcess } from "./workerd-process.ts";

export interface SupervisorOptions {
  /** Starts workerd on `port` (0: any free port, first start only). */
  start(port: number): Promise<WorkerdProcess>;
  port: number;
  log(message: string): void;
  maxRestarts?: number;
  windowMs?: number;
}

export interface Supervisor {
  /** The first start: resolves with the port once workerd listens. */
  ready: Promise<number>;
  /** Resolves with the exit code: 0 after stop(), 1 when workerd kept crashing. */
  done: Promise<number>;
  /** The workerd now running (its pid changes on a restart). */
  current(): WorkerdProcess | undefined;
  /** Stops workerd (SIGKILL after `graceMs`, logged) and resolves with `done`'s code. */
  stop(graceMs?: number): Promise<number>;
}

export function supervise(options: SupervisorOptions): Supervisor {
  const maxRestarts = options.maxRestarts ?? 5;
  const windowMs = options.windowMs ?? 60_000;
  let running: WorkerdProcess | undefined;
  let stopping = false;
  const restarts: number[] = [];
  let port = options.port;

  const ready = options.start(port).then((first) => {
    running = first;
    port = first.port;
    return first.port;
  });

  const done = ready.then(async () => {
    for (;;) {
      const code = await running!.exited;
      if (stopping) return 0;
      const now = Date.now();
      restarts.push(now);
      while (restarts[0]! <= now - windowMs) restarts.shift();
      if (restarts.length > maxRestarts) {
        options.log(`workerd exited (${code}) ${restarts.length} times within ${windowMs / 1000} s; giving up`);
        return 1;
      }
      options.log(`workerd exited (${code}); restarting (${restarts.length} of at most ${maxRestarts} within ${windowMs / 1000} s)`);
      try {
        running = await options.start(port);
        if (stopping) await running.stop();
        else options.log(`workerd restarted (pid ${running.pid})`);
      } catch (error) {
        options.log(`workerd did not start: ${(error as Error).message}`);
        // Counted as another crash on the next turn: `exited` of the failed start has resolved.
        running = { ...running!, exited: Promise.resolve("start failed") };
      }
    }
  });

  return {
    ready,
    done,
    current: () => running,
    stop: async (graceMs = DEFAULT_GRACE_MS) => {
      stopping = true;
      await ready.catch(() => undefined);
      await running?.stop(graceMs, () => options.log(`workerd still running ${graceMs} ms after SIGTERM (--grace-ms): killing it (SIGKILL); requests still open get an infer_cancelled line (reason serve_shutdown)`));
      return done;
    },
  };
}
