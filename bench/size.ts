// The Worker's deploy size (wrangler deploy --dry-run) and start-up CPU (wrangler check startup).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const root = new URL("../", import.meta.url).pathname;
const wrangler = join(root, "node_modules/wrangler/bin/wrangler.js");

export interface SizeResults {
  bundle_kib: number;
  bundle_gzip_kib: number;
  startup_cpu_ms: number;
}

export function benchSize(): SizeResults {
  const out = mkdtempSync(join(tmpdir(), "inferrouter-size-"));
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
  execFileSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", out], { cwd: root, env, stdio: "ignore" });
  const bundle = readFileSync(join(out, "index.js"));
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
  };
}
