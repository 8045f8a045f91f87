// npm run deploy -- --config router.toml, through real wrangler (--dry-run --outdir): the config is
// bundled into the Worker, the example [vars.ROUTER_CONFIG] is not deployed, and the bundle, run by
// plain workerd with no ROUTER_CONFIG variable at all, serves the router.toml's routes; a
// ROUTER_CONFIG variable still overrides it.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { workerdConfig } from "../../scripts/serve/workerd-config.ts";
import { startWorkerd, type WorkerdProcess } from "../../scripts/serve/workerd-process.ts";
import { readWorkerProject } from "../../scripts/serve/worker-project.ts";

const root = new URL("../../", import.meta.url).pathname;
const KEY = "sk-bundled-test";
// Past Cloudflare's 5 KB variable cap: 40 routes over 40 providers.
const ids = Array.from({ length: 40 }, (_, i) => `provider_${i}`);
const ROUTER_TOML = [
  "[routes]",
  ...ids.map((id, i) => `route_${i} = ["${id}"]`),
  ...ids.flatMap((id) => [`[providers.${id}]`, 'type = "openai_compatible"', `base_url = "http://127.0.0.1:9/${id}/v1"`, `model = "bundled-model-${id}"`, 'api_key_secret = "SOME_KEY"', "timeout_ms = 30000"]),
].join("\n");

let running: WorkerdProcess | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function serveBundle(outDir: string, vars: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), "bundled-run-"));
  const secrets = join(dir, "secrets");
  mkdirSync(secrets);
  writeFileSync(join(secrets, "PROXY_API_KEYS"), KEY);
  writeFileSync(join(secrets, "ADMIN_API_KEYS"), "sk-bundled-admin");
  mkdirSync(join(dir, "state"));
  const worker = readWorkerProject(join(root, "wrangler.toml"), outDir);
  worker.vars = vars; // what a deployed Worker would get: no ROUTER_CONFIG unless one is set
  const configPath = join(outDir, "config.capnp");
  writeFileSync(configPath, workerdConfig({ worker, address: "127.0.0.1:0", stateDir: join(dir, "state"), readDirs: { SECRETS_DIR: secrets, LOGS_DIR: dir } }));
  running = await startWorkerd({ configPath, address: "127.0.0.1:0", onConsole: () => {} });
  const res = await fetch(`http://127.0.0.1:${running.port}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
}

describe("npm run deploy -- --config router.toml", () => {
  it("bundles the config into the Worker, deploys no ROUTER_CONFIG variable, and the bundle serves it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bundled-"));
    const routerToml = join(dir, "router.toml");
    writeFileSync(routerToml, ROUTER_TOML);
    expect(Buffer.byteLength(JSON.stringify(readFileSync(routerToml, "utf8")))).toBeGreaterThan(5_120);
    const outDir = join(dir, "out");
    const run = spawnSync(process.execPath, [join(root, "scripts/deploy.ts"), "--config", routerToml, "--dry-run", "--outdir", outDir], {
      cwd: root,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain("bundled into the Worker");
    // wrangler lists the Worker's bindings: the Durable Objects, and no ROUTER_CONFIG variable.
    const bindings = run.stdout.slice(run.stdout.indexOf("bindings:"));
    expect(bindings).toContain("env.QUOTA");
    expect(bindings).not.toContain("ROUTER_CONFIG");
    expect(readFileSync(join(outDir, "index.js"), "utf8")).toContain("bundled-model-provider_39");

    const routes = await serveBundle(outDir, {});
    expect(routes).toHaveLength(40);
    expect(routes).toContain("route_39");
    await running!.stop();
    running = undefined;
    // A ROUTER_CONFIG variable is the override.
    const override = { routes: { small: ["p"] }, providers: { p: { type: "openai_compatible", base_url: "http://127.0.0.1:9/v1", model: "m" } } };
    expect(await serveBundle(outDir, { ROUTER_CONFIG: override })).toEqual(["small"]);
  });
});
