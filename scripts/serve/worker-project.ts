// The Worker as `wrangler deploy` would upload it: the bundle from `wrangler deploy --dry-run
// --outdir`, and the settings of its wrangler.toml that workerd needs (compatibility date and
// flags, vars, Durable Object classes). Bundling writes <project>/.wrangler/tmp, so a read-only
// install (the edge image) bundles once at build time and serve reads that dir (`--bundle`).
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { parse as parseToml } from "smol-toml";

const root = new URL("../../", import.meta.url).pathname;
/** The wrangler CLI (a JS file run with this Node); tests point it at a stand-in. */
const wrangler = process.env.INFERROUTER_WRANGLER_JS ?? join(root, "node_modules/wrangler/bin/wrangler.js");

export interface WorkerProject {
  /** The bundled entry module (ES module), inside the out dir. */
  modulePath: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  vars: Record<string, unknown>;
  durableObjects: Array<{ binding: string; className: string; sql: boolean }>;
  /**
   * The other modules wrangler wrote beside the entry (files its `[[rules]]` bundle as Text, e.g.
   * the status page's uPlot), by file name: the entry imports them by these names.
   */
  textModules?: string[];
}

interface WranglerToml {
  main: string;
  compatibility_date: string;
  compatibility_flags?: string[];
  vars?: Record<string, unknown>;
  durable_objects?: { bindings?: Array<{ name: string; class_name: string }> };
  migrations?: Array<{ new_sqlite_classes?: string[] }>;
}

function bundleCommand(configPath: string, outDir: string, extraArgs: string[]) {
  return {
    args: [wrangler, "deploy", "--dry-run", "--outdir", outDir, "--config", configPath, ...extraArgs],
    options: { cwd: dirname(resolve(configPath)), env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  };
}

/** The settings of `configPath` (a wrangler.toml) for the bundle already in `bundleDir`. */
export function readWorkerProject(configPath: string, bundleDir: string): WorkerProject {
  const toml = parseToml(readFileSync(configPath, "utf8")) as unknown as WranglerToml;
  const sqlClasses = new Set((toml.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []));
  const modulePath = join(bundleDir, basename(toml.main).replace(/\.[cm]?[jt]s$/, ".js"));
  // wrangler's out dir: the entry, its source map, a README, and one file per Text-rule module.
  const textModules = readdirSync(bundleDir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name !== basename(modulePath) && !entry.name.endsWith(".map") && entry.name !== "README.md")
    .map((entry) => entry.name);
  return {
    modulePath,
    textModules,
    compatibilityDate: toml.compatibility_date,
    compatibilityFlags: toml.compatibility_flags ?? [],
    vars: toml.vars ?? {},
    durableObjects: (toml.durable_objects?.bindings ?? []).map((b) => ({ binding: b.name, className: b.class_name, sql: sqlClasses.has(b.class_name) })),
  };
}

/** Bundles the Worker of `configPath` (a wrangler.toml) into `outDir` and reads its settings (blocking: benchmarks). */
export function bundleWorker(configPath: string, outDir: string, extraArgs: string[] = []): WorkerProject {
  const { args, options } = bundleCommand(configPath, outDir, extraArgs);
  execFileSync(process.execPath, args, { ...options, stdio: ["ignore", "ignore", "pipe"] });
  return readWorkerProject(configPath, outDir);
}

/** wrangler's error text, without colours and blank lines, on one line. */
export function wranglerMessage(output: string): string {
  const lines = stripVTControlCharacters(output).split("\n").map((line) => line.trim()).filter(Boolean);
  const error = lines.findIndex((line) => line.includes("[ERROR]"));
  const kept = (error >= 0 ? lines.slice(error) : lines).filter((line) => !line.startsWith("🪵"));
  return kept.join(" ").slice(0, 2_000) || "no output";
}

export interface Bundling {
  /** The settings once the bundle is written; rejects with wrangler's message (one line) when it fails. */
  project: Promise<WorkerProject>;
  /** The bundler's pid (wrangler's launcher, which passes a signal on to its CLI process). */
  pid: number | undefined;
  /** Stops the bundler (a signal during start-up). */
  kill(): void;
}

/** Bundles without blocking, so a signal during the few seconds it takes is handled (the bundler killed). */
export function startBundle(configPath: string, outDir: string): Bundling {
  const { args, options } = bundleCommand(configPath, outDir, []);
  const child = spawn(process.execPath, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const project = new Promise<WorkerProject>((resolvePromise, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0) resolvePromise(readWorkerProject(configPath, outDir));
      else reject(new Error(`bundling the Worker failed (wrangler ${code ?? signal}): ${wranglerMessage(output)}`));
    });
  });
  return {
    project,
    pid: child.pid,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    },
  };
}
