// The Worker's deploy size (wrangler deploy --dry-run), what fills it (esbuild's metafile), and
// start-up CPU (wrangler check startup).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { bundleWorker } from "../scripts/serve/worker-project.ts";

const root = new URL("../", import.meta.url).pathname;
const wrangler = join(root, "node_modules/wrangler/bin/wrangler.js");

export interface SizeResults {
  bundle_kib: number;
  bundle_gzip_kib: number;
  startup_cpu_ms: number;
  /** The largest contributors to the minified bundle (KiB of output), by package or folder. */
  largest_inputs_kib: Record<string, number>;
}

/** A bundle input's group: its npm package (zod split into its parts), else its top folder. */
function inputGroup(path: string): string {
  const inPackage = path.split("node_modules/").at(-1)!;
  if (inPackage === path) return path.split("/").slice(0, 2).join("/");
  const zodPart = /^zod\/v4\/(classic|core|locales|mini)\//.exec(inPackage);
  if (zodPart) return `zod/v4/${zodPart[1]}`;
  return inPackage.split("/").slice(0, inPackage.startsWith("@") ? 2 : 1).join("/");
}

export function benchSize(): SizeResults {
  const out = mkdtempSync(join(tmpdir(), "inferrouter-size-"));
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
  const worker = bundleWorker(join(root, "wrangler.toml"), out, ["--metafile", join(out, "meta.json")]);
  const bundle = readFileSync(worker.modulePath);
  const meta = JSON.parse(readFileSync(join(out, "meta.json"), "utf8")) as { outputs: Record<string, { entryPoint?: string; inputs: Record<string, { bytesInOutput: number }> }> };
  const groups = new Map<string, number>();
  for (const output of Object.values(meta.outputs).filter((o) => o.entryPoint)) {
    for (const [path, input] of Object.entries(output.inputs)) groups.set(inputGroup(path), (groups.get(inputGroup(path)) ?? 0) + input.bytesInOutput);
  }
  const largest = [...groups].sort((a, b) => b[1] - a[1]).slice(0, 6);
  const profilePath = join(out, "startup.cpuprofile");
  execFileSync(process.execPath, [wrangler, "check", "startup", "--outfile", profilePath], { cwd: root, env, stdio: "ignore" });
  const profile = JSON.parse(readFileSync(profilePath, "utf8")) as {
    nodes: Array<{ id: number; callFrame: { functionName: string } }>;
    samples: number[];
    timeDeltas: number[];
  };
  // Sampled CPU time, idle samples left out.
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === "(idle)").map((node) => node.id));
  const busyUs = profile.samples.reduce((sum, id, i) => (idle.has(id) ? sum : sum + (profile.timeDeltas[i + 1] ?? 0)), 0);
  return {
    bundle_kib: Math.round(bundle.length / 102.4) / 10,
    bundle_gzip_kib: Math.round(gzipSync(bundle).length / 102.4) / 10,
    startup_cpu_ms: Math.round(busyUs / 100) / 10,
    largest_inputs_kib: Object.fromEntries(largest.map(([group, bytes]) => [group, Math.round(bytes / 102.4) / 10])),
  };
}
