// npm run deploy through the real CLI, with wrangler replaced by the test's stand-in
// (fixtures/fake-wrangler.ts): the free plan is the default (no Logpush), --logpush turns it on for
// that deploy only, and an invalid config deploys nothing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import { configToRun } from "../../scripts/check-config.ts";

const root = new URL("../../", import.meta.url).pathname;

function deploy(args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "deploy-"));
  const runs = join(dir, "runs.txt");
  writeFileSync(runs, "");
  const copy = join(dir, "wrangler-config.toml");
  const result = spawnSync(process.execPath, [join(root, "scripts/deploy.ts"), ...args], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, INFERROUTER_WRANGLER_JS: join(root, "test/scripts/fixtures/fake-wrangler.ts"), FAKE_WRANGLER_RUNS: runs, FAKE_WRANGLER_PLAY: "0", FAKE_WRANGLER_CODE: "0", FAKE_WRANGLER_CONFIG_COPY: copy },
  });
  const calls = readFileSync(runs, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as string[]);
  return { ...result, calls, config: existsSync(copy) ? (parseToml(readFileSync(copy, "utf8")) as { logpush?: boolean; name?: string }) : undefined };
}

describe("npm run deploy", () => {
  it("deploys without Logpush by default (the free plan), wrangler.toml does not turn it on", () => {
    expect((parseToml(readFileSync(join(root, "wrangler.toml"), "utf8")) as { logpush?: boolean }).logpush).toBeUndefined();
    const run = deploy(["--dry-run"]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("ROUTER_CONFIG is valid");
    expect(run.stdout).toContain("deploy: npx wrangler secret put NAME");
    expect(run.calls).toEqual([["deploy", "--config", join(root, "wrangler.toml"), "--dry-run"]]);
    expect(run.config?.logpush).toBeUndefined();
  });

  it("turns Logpush on with --logpush, for that deploy only", () => {
    const run = deploy(["--logpush", "--dry-run"]);
    expect(run.status).toBe(0);
    expect(run.config).toMatchObject({ logpush: true, name: "inferrouter" });
    expect(run.stdout).toContain("Logpush on for this deploy (Workers Paid plan)");
    expect(existsSync(join(root, ".wrangler.deploy.toml"))).toBe(false);
  });

  it("deploys nothing when the config is invalid, with check-config's report", () => {
    const dir = mkdtempSync(join(tmpdir(), "deploy-bad-"));
    const bad = join(dir, "wrangler.toml");
    writeFileSync(bad, 'name = "x"\nmain = "edge/index.ts"\n[vars.ROUTER_CONFIG.routes]\ndefault = ["ghost"]\n[vars.ROUTER_CONFIG.providers]\n');
    const run = deploy(["--config", bad]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('unknown provider "ghost"');
    expect(run.calls).toEqual([]);
  });

  it("a dry run with --outdir leaves the bundled config beside the bundle, for npm run serve -- --bundle DIR", () => {
    const dir = mkdtempSync(join(tmpdir(), "deploy-outdir-"));
    const file = join(dir, "router.toml");
    writeFileSync(file, '[routes]\nchat = ["a"]\n\n[providers.a]\ntype = "openai_compatible"\nbase_url = "https://a.test/v1"\nmodel = "m"\n');
    const outdir = join(dir, "dist");
    mkdirSync(outdir);
    const run = deploy(["--dry-run", "--outdir", outdir, "--config", file]);
    expect(run.status).toBe(0);
    expect(JSON.parse(readFileSync(join(outdir, "router-config.json"), "utf8"))).toEqual({ routes: { chat: ["a"] }, providers: { a: { type: "openai_compatible", base_url: "https://a.test/v1", model: "m" } } });
    expect(run.stdout).toContain(`npm run serve -- --bundle ${outdir} runs this config`);
    expect(configToRun(undefined, outdir, join(root, "wrangler.toml"))).toEqual({ path: join(outdir, "router-config.json"), source: `the config bundled in ${outdir} by npm run deploy` });
    expect(configToRun(file, outdir, join(root, "wrangler.toml")).path).toBe(file);
    expect(configToRun(undefined, dir, join(root, "wrangler.toml")).path).toBe(join(root, "wrangler.toml"));
  });
});
