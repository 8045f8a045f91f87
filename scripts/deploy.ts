// npm run deploy [-- --config router.toml] [-- --logpush] [-- --dry-run --outdir DIR]: checks the
// config as check-config does (an invalid one: its report, exit 1, nothing deployed), then runs
// `wrangler deploy`. A config file of its own (router.toml, or JSON) is bundled into the Worker:
// Cloudflare caps a variable at 5 KB, a real config passes that. Logpush needs the Workers Paid plan
// and a free account's deploy can be refused for it, so wrangler.toml leaves it off and --logpush
// turns it on for this deploy. Either way wrangler gets a copy of wrangler.toml (beside it, so its
// relative paths hold) with the change, removed afterwards.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";
import { parseCommandLine } from "../shared/cli.ts";
import { BUNDLED_CONFIG_FILE, checkConfig, isWranglerToml, loadConfigFile } from "./check-config.ts";

const root = new URL("../", import.meta.url).pathname;
const wranglerJs = process.env.INFERROUTER_WRANGLER_JS ?? join(root, "node_modules/wrangler/bin/wrangler.js");

const USAGE = `usage: npm run deploy [-- --logpush] [-- --dry-run --outdir DIR]
  checks the config (npm run check-config), then wrangler deploy
  --logpush      also turn on Logpush for the Worker (Workers Paid plan; then npm run logpush:setup)
  --dry-run      bundle without deploying (wrangler deploy --dry-run)
  --outdir DIR   where --dry-run writes the bundle
  --config FILE  the router config: a router.toml or JSON file (bundled into the Worker), or a
                 wrangler.toml with [vars.ROUTER_CONFIG] (default wrangler.toml)`;

/** wrangler.toml's text with Logpush on: a top-level key goes before the first table. */
export function withLogpush(text: string): string {
  return `logpush = true # added by npm run deploy -- --logpush\n${text.replace(/^logpush\s*=.*\n/m, "")}`;
}

/**
 * wrangler.toml's text with a bundled config: its example [vars.ROUTER_CONFIG] dropped (a variable
 * would override the bundle) and the config as BUNDLED_ROUTER_CONFIG, JSON text the build inlines.
 */
export function withBundledConfig(text: string, config: unknown): string {
  const toml = parseToml(text) as { vars?: Record<string, unknown>; define?: Record<string, string> };
  if (toml.vars) {
    delete toml.vars.ROUTER_CONFIG;
    if (!Object.keys(toml.vars).length) delete toml.vars;
  }
  toml.define = { ...toml.define, BUNDLED_ROUTER_CONFIG: JSON.stringify(JSON.stringify(config)) };
  return `# written by npm run deploy: wrangler.toml with the router config bundled\n${stringifyToml(toml)}\n`;
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
  // A wrangler.toml given as --config is the one deployed; a config file goes into the project's.
  const bundling = !isWranglerToml(values.config);
  const wranglerToml = bundling ? join(root, "wrangler.toml") : values.config;
  let text = readFileSync(wranglerToml, "utf8");
  const loaded = bundling ? loadConfigFile(values.config) : undefined;
  if (bundling) {
    if (loaded?.ok) text = withBundledConfig(text, loaded.raw);
    console.log(`deploy: ${values.config} bundled into the Worker (a ROUTER_CONFIG variable set later overrides it)`);
  }
  if (values.logpush) {
    text = withLogpush(text);
    console.log("deploy: Logpush on for this deploy (Workers Paid plan)");
  } else console.log("deploy: Logpush off (the free plan's default: Workers Logs + npm run logs:tail; --logpush turns it on)");
  const changed = bundling || values.logpush;
  const config = changed ? join(root, ".wrangler.deploy.toml") : wranglerToml;
  if (changed) writeFileSync(config, text);
  const args = ["deploy", "--config", config, ...(values["dry-run"] ? ["--dry-run"] : []), ...(values.outdir ? ["--outdir", values.outdir] : [])];
  const result = spawnSync(process.execPath, [wranglerJs, ...args], { cwd: root, stdio: "inherit" });
  if (changed) rmSync(config, { force: true });
  // Beside a dry run's bundle, the config it holds: `npm run serve -- --bundle DIR` runs that one.
  if (result.status === 0 && values.outdir && loaded?.ok) {
    const beside = join(resolve(root, values.outdir), BUNDLED_CONFIG_FILE);
    writeFileSync(beside, `${JSON.stringify(loaded.raw, null, 2)}\n`);
    console.log(`deploy: wrote ${beside} (npm run serve -- --bundle ${values.outdir} runs this config)`);
  }
  process.exit(result.status ?? 1);
}
