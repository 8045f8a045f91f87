// The Worker as `wrangler deploy` would upload it: the bundle from `wrangler deploy --dry-run
// --outdir`, and the settings of its wrangler.toml that workerd needs (compatibility date and
// flags, vars, Durable Object classes).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parse as parseToml } from "smol-toml";

const root = new URL("../../", import.meta.url).pathname;
const wrangler = join(root, "node_modules/wrangler/bin/wrangler.js");

export interface WorkerProject {
  /** The bundled entry module (ES module), inside the out dir. */
  modulePath: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  vars: Record<string, unknown>;
  durableObjects: Array<{ binding: string; className: string; sql: boolean }>;
}

interface WranglerToml {
  main: string;
  compatibility_date: string;
  compatibility_flags?: string[];
  vars?: Record<string, unknown>;
  durable_objects?: { bindings?: Array<{ name: string; class_name: string }> };
  migrations?: Array<{ new_sqlite_classes?: string[] }>;
}

/** Bundles the Worker of `configPath` (a wrangler.toml) into `outDir` and reads its settings. */
export function bundleWorker(configPath: string, outDir: string, extraArgs: string[] = []): WorkerProject {
  execFileSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", outDir, "--config", configPath, ...extraArgs], {
    cwd: dirname(resolve(configPath)),
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const toml = parseToml(readFileSync(configPath, "utf8")) as unknown as WranglerToml;
  const sqlClasses = new Set((toml.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []));
  return {
    modulePath: join(outDir, basename(toml.main).replace(/\.[cm]?[jt]s$/, ".js")),
    compatibilityDate: toml.compatibility_date,
    compatibilityFlags: toml.compatibility_flags ?? [],
    vars: toml.vars ?? {},
    durableObjects: (toml.durable_objects?.bindings ?? []).map((b) => ({ binding: b.name, className: b.class_name, sql: sqlClasses.has(b.class_name) })),
  };
}
