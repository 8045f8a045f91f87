// Runs the Worker under `wrangler dev` (local workerd, local Durable Objects, no account, no
// network) with a given ROUTER_CONFIG and vars, for end-to-end tests and benchmarks.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startProcess, type Running } from "../../scripts/processes.ts";

const root = new URL("../../", import.meta.url).pathname;

export interface WranglerDev extends Running {
  /** The operation-log events the Worker wrote so far. */
  events(): Array<Record<string, unknown>>;
}

export async function startWranglerDev(options: {
  config?: unknown;
  vars?: Record<string, string>;
  configPath?: string;
}): Promise<WranglerDev> {
  const port = await freePort();
  const vars = { ...options.vars, ...(options.config === undefined ? {} : { ROUTER_CONFIG: JSON.stringify(options.config) }) };
  const args = [
    join(root, "node_modules/wrangler/bin/wrangler.js"),
    "dev",
    "--config", options.configPath ?? join(root, "wrangler.toml"),
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--inspector-port", String(await freePort()),
    "--persist-to", mkdtempSync(join(tmpdir(), "inferrouter-wrangler-")),
    "--log-level", process.env.WRANGLER_LOG_LEVEL ?? "log",
    ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
  ];
  const running = await startProcess(process.execPath, args, {
    ready: /Ready on (http:\/\/127\.0\.0\.1:\d+)/,
    timeoutMs: 90_000,
    cwd: root,
    env: { WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
  });
  return {
    ...running,
    events: () =>
      running
        .output()
        .split("\n")
        .flatMap((line) => {
          const start = line.indexOf('{"ts"');
          if (start < 0) return [];
          try {
            return [JSON.parse(line.slice(start)) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
  };
}
