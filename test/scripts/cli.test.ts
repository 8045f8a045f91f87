// Every command line answers alike (shared/cli.ts), through the real CLI in a child process:
// --help prints the usage (exit 0); an unknown or misspelt flag prints the usage, the flag and the
// closest valid one (exit 2); expected failures are one line, never a stack trace.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;
const run = (script: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [join(root, script), ...args], { cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } });

/** Each command, a misspelling of one of its flags, and the flag it should suggest. */
const COMMANDS: Array<[script: string, usage: string, typo: string, suggestion: string]> = [
  ["scripts/start.ts", "usage: npm start", "--confg", "--config"],
  ["scripts/serve.ts", "usage: npm run serve", "--secret-dir", "--secrets-dir"],
  ["scripts/check-config.ts", "usage: npm run check-config", "--schem", "--schema"],
  ["sidecar/main.ts", "usage: inferrouter-sidecar", "--modle", "--model"],
  ["scripts/logs-extract.ts", "usage: npm run logs:extract", "--outt", "--out"],
  ["scripts/logpush-setup.ts", "usage: npm run logpush:setup", "--dry-rn", "--dry-run"],
  ["scripts/docs-config.ts", "usage: npm run docs:config", "--chek", "--check"],
  ["scripts/tiny-model.ts", "usage: npm run tiny-model", "--sed", "--seed"],
  ["scripts/deploy.ts", "usage: npm run deploy", "--logpsh", "--logpush"],
  ["bench/run.ts", "usage: npm run bench", "--quik", "--quick"],
  ["bench/streams.ts", "usage: npm run bench:streams", "--labl", "--label"],
  ["bench/soak.ts", "usage: npm run bench:soak", "--minuts", "--minutes"],
  ["bench/stream-cpu.ts", "usage: npm run bench:stream-cpu", "--round", "--rounds"],
  ["bench/distance.ts", "usage: npm run bench:distance", "--requets", "--requests"],
  ["bench/portkey.ts", "usage: npx node bench/portkey.ts", "--portky", "--portkey"],
  ["bench/profile.ts", "usage: npx node bench/profile.ts", "--cas", "--case"],
  // wrangler tail's own flags are checked too: a typo stops here, before wrangler runs.
  ["scripts/logs-tail.ts", "usage: npm run logs:tail", "--sampling-rat", "--sampling-rate"],
];

/** Commands whose numeric flags must be whole numbers in range, and a bad value each. */
const NUMBERS: Array<[script: string, args: string[], message: string]> = [
  ["scripts/serve.ts", ["--port", "abc"], "serve: --port must be a whole number from 0 to 65535, not 'abc'"],
  ["scripts/serve.ts", ["--port", "70000"], "serve: --port must be a whole number from 0 to 65535, not '70000'"],
  ["scripts/serve.ts", ["--grace-ms", "1.5"], "serve: --grace-ms must be a whole number from 0 to 3600000, not '1.5'"],
  ["scripts/tiny-model.ts", ["/tmp/x.gguf", "--context-length", "8"], "tiny-model: --context-length must be a whole number from 16 to 1048576, not '8'"],
  ["scripts/start.ts", ["--context-size", "big"], "npm start: --context-size must be a whole number from 16 to 1048576, not 'big'"],
  ["scripts/start.ts", ["--port=-1"], "npm start: --port must be a whole number from 1 to 65535, not '-1'"],
  ["scripts/start.ts", ["--sidecar-port", "80x"], "npm start: --sidecar-port must be a whole number from 1 to 65535, not '80x'"],
];

describe("every command line", () => {
  it.each(COMMANDS)("%s answers --help with its usage, exit 0", (script, usage) => {
    const help = run(script, ["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain(usage);
  });

  it.each(COMMANDS)("%s answers a misspelt flag with the usage, the flag and the closest one, exit 2", (script, usage, typo, suggestion) => {
    const bad = run(script, [typo]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(usage);
    expect(bad.stderr).toContain(`unknown option ${typo} (did you mean ${suggestion}?)`);
    expect(bad.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/);
  });

  it.each(NUMBERS)("%s %j is refused in one line, exit 2, before anything starts", (script, args, message) => {
    const bad = run(script, args);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe(message);
  });

  it("logs:tail answers --help with its own usage (its other flags are wrangler tail's)", () => {
    const help = run("scripts/logs-tail.ts", ["--help"], { INFERROUTER_WRANGLER_JS: "/nonexistent" });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("usage: npm run logs:tail");
  });

  it("says one line when the network is not there (or the account refuses): logpush:setup", () => {
    const result = run("scripts/logpush-setup.ts", ["--r2-bucket", "b"], { CLOUDFLARE_ACCOUNT_ID: "0".repeat(32), CLOUDFLARE_API_TOKEN: "t", R2_ACCESS_KEY_ID: "k", R2_SECRET_ACCESS_KEY: "s" });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^logpush:setup(: no network: api\.cloudflare\.com| failed \(\d+\))/);
  });

  it("serve: a port in use names --port", async () => {
    const taken = createServer().listen(0, "127.0.0.1");
    await once(taken, "listening");
    try {
      const port = (taken.address() as AddressInfo).port;
      const dir = mkdtempSync(join(tmpdir(), "serve-port-"));
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [join(root, "scripts/serve.ts"), "--port", String(port), "--state-dir", join(dir, "state"), "--log-dir", join(dir, "logs"), "--secrets-dir", dir], { cwd: root });
        let stderr = "";
        child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
        child.once("exit", (code) => resolve({ code, stderr }));
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`serve: 127.0.0.1:${port} is in use: pick another port with --port`);
    } finally {
      taken.close();
    }
  }, 90_000);

  it("says one line for a missing file or a folder given as a file", () => {
    for (const [script, args, line] of [
      ["scripts/check-config.ts", ["/nonexistent/router.toml"], "/nonexistent/router.toml: no such file"],
      ["scripts/check-config.ts", ["--config", "/nonexistent/router.toml"], "/nonexistent/router.toml: no such file"], // as start, serve and deploy take it
      ["scripts/start.ts", ["--config", "/nonexistent/router.toml"], "/nonexistent/router.toml: no such file"],
      ["scripts/serve.ts", ["--config", "/nonexistent/router.toml"], "/nonexistent/router.toml: no such file"],
      ["scripts/logpush-setup.ts", ["--dry-run", "--config", "/nonexistent/wrangler.toml"], "logpush:setup: no such file: /nonexistent/wrangler.toml"],
      ["scripts/tiny-model.ts", ["/nonexistent/dir/x.gguf"], "tiny-model: no such file: /nonexistent/dir/x.gguf"],
      // A folder where a file belongs: the same one line, not EISDIR's raw message.
      ["scripts/check-config.ts", [tmpdir()], `${tmpdir()}: a folder, not a file`],
      ["scripts/serve.ts", ["--config", tmpdir()], `${tmpdir()}: a folder, not a file`],
    ] as const) {
      const result = run(script, [...args]);
      expect(result.status, script).toBe(1);
      expect(result.stderr.trim(), script).toContain(line);
      expect(result.stderr, script).not.toMatch(/\n\s+at .*:\d+:\d+/);
    }
  });
});

describe("npm start's config, checked before anything starts", () => {
  const dir = mkdtempSync(join(tmpdir(), "start-config-"));
  const bad = join(dir, "router.toml");
  writeFileSync(bad, '[routes]\ndefault = ["groq"]\n[providers.grok]\ntype = "openai_compatible"\nbase_url = "https://api.groq.com/openai/v1/chat/completions"\nmodel = "m"\n');

  it("exits 1 with check-config's own message for an invalid --config, before any banner or file is written", () => {
    const check = run("scripts/check-config.ts", [bad]);
    const devVars = join(dir, "fresh.vars");
    const start = run("scripts/start.ts", ["--config", bad, "--dev-vars", devVars, "--state-dir", join(dir, "state")]);
    expect(check.status).toBe(1);
    expect(start.status).toBe(1);
    expect(start.stderr.trim()).toBe(check.stderr.trim());
    expect(start.stderr).toContain('unknown provider "groq" (did you mean "grok"?)');
    expect(start.stdout).toBe("");
  });

  it("the same for serve", () => {
    const serve = run("scripts/serve.ts", ["--config", bad, "--state-dir", join(dir, "serve-state")]);
    expect(serve.status).toBe(1);
    expect(serve.stderr.trim()).toBe(`serve: ${run("scripts/check-config.ts", [bad]).stderr.trim()}`);
    expect(serve.stdout).toBe("");
  });

  it("honours ROUTER_CONFIG in .dev.vars and names it when it is invalid", () => {
    const devVars = join(dir, "with-config.vars");
    writeFileSync(devVars, `ROUTER_CONFIG='${JSON.stringify({ routes: { default: ["ghost"] }, providers: {} })}'\n`);
    const start = run("scripts/start.ts", ["--dev-vars", devVars, "--state-dir", join(dir, "state2")]);
    expect(start.status).toBe(1);
    expect(start.stderr).toContain(`${devVars} ROUTER_CONFIG: Invalid ROUTER_CONFIG`);
    expect(start.stderr).toContain('unknown provider "ghost"');
    expect(start.stdout).toBe("");
  });
});
