// npm run deploy [-- --logpush] [-- --dry-run --outdir DIR]: checks the config as check-config does
// (an invalid one: its report, exit 1, nothing deployed), then runs `wrangler deploy`. Logpush needs
// the Workers Paid plan and a free account's deploy can be refused for it, so wrangler.toml leaves it
// off and --logpush turns it on for this deploy: wrangler gets a copy of wrangler.toml (beside it,
// so its relative paths hold) that starts with `logpush = true`, removed afterwards.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseCommandLine } from "../shared/cli.ts";
import { checkConfig } from "./check-config.ts";

const root = new URL("../", import.meta.url).pathname;
const wranglerJs = process.env.INFERROUTER_WRANGLER_JS ?? join(root, "node_modules/wrangler/bin/wrangler.js");

const USAGE = `usage: npm run deploy [-- --logpush] [-- --dry-run --outdir DIR]
  checks the config (npm run check-config), then wrangler deploy
  --logpush      also turn on Logpush for the Worker (Workers Paid plan; then npm run logpush:setup)
  --dry-run      bundle without deploying (wrangler deploy --dry-run)
  --outdir DIR   where --dry-run writes the bundle
  --config FILE  the wrangler.toml (default wrangler.toml)`;

/** wrangler.toml's text with Logpush on: a top-level key goes before the first table. */
export function withLogpush(text: string): string {
  return `logpush = true # added by npm run deploy -- --logpush\n${text.replace(/^logpush\s*=.*\n/m, "")}`;
}

if (import.meta.main) {
  const { values } = parseCommandLine({
    name: "deploy",
    usage: USAGE,
    options: { logpush: { type: "boolean" }, "dry-run": { type: "boolean" }, outdir: { type: "string" }, config: { type: "string", default: join(root, "wrangler.toml") } },
  });
  const { ok, report } = checkConfig(values.config, ["deploy"]);
  (ok ? console.log : console.error)(report);
  if (!ok) process.exit(1);
  let config = values.config;
  if (values.logpush) {
    config = join(root, ".wrangler.logpush.toml");
    writeFileSync(config, withLogpush(readFileSync(values.config, "utf8")));
    console.log("deploy: Logpush on for this deploy (Workers Paid plan)");
  } else console.log("deploy: Logpush off (the free plan's default: Workers Logs + npm run logs:tail; --logpush turns it on)");
  const args = ["deploy", "--config", config, ...(values["dry-run"] ? ["--dry-run"] : []), ...(values.outdir ? ["--outdir", values.outdir] : [])];
  const result = spawnSync(process.execPath, [wranglerJs, ...args], { cwd: root, stdio: "inherit" });
  if (values.logpush) rmSync(config, { force: true });
  process.exit(result.status ?? 1);
}
