// The README's quick start: `npm start` on a fresh checkout answers the curl it prints, offline,
// through the sidecar, and Ctrl-C stops everything it started.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort, startProcess } from "../../scripts/processes.ts";

const root = new URL("../../", import.meta.url).pathname;

/** The context the sidecar gave its model, from its "listening" log line. */
const sidecarContextSize = (state: string) =>
  readFileSync(join(state, "sidecar.jsonl"), "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as { context_size?: number }).find((e) => e.context_size)?.context_size;

describe("npm start", () => {
  it("writes a key and the tiny model, serves the chain through the sidecar, and stops on Ctrl-C", async () => {
    const state = mkdtempSync(join(tmpdir(), "inferrouter-start-"));
    const devVars = join(state, "dev.vars");
    const args = [join(root, "scripts/start.ts"), "--state-dir", state, "--dev-vars", devVars, "--port", String(await freePort()), "--sidecar-port", String(await freePort())];
    const start = await startProcess(process.execPath, args, { ready: /InferRouter is running at (http:\/\/\S+)\/v1/, timeoutMs: 120_000, cwd: root });
    try {
      await new Promise((resolve) => setImmediate(resolve));
      const key = /Client key: (\S+)/.exec(start.output())?.[1];
      expect(key).toMatch(/^sk-local-/);
      expect(readFileSync(devVars, "utf8")).toContain(`PROXY_API_KEYS=${key}`);
      expect(start.output()).toContain(`curl ${start.url}/v1/chat/completions -H "authorization: Bearer ${key}"`);
      expect(start.output()).toContain("npm start: config from wrangler.toml's example [vars.ROUTER_CONFIG]");
      const res = await fetch(`${start.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "default", max_tokens: 8, messages: [{ role: "user", content: "Hello" }] }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-inferrouter-provider")).toBe("local");
      const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
      expect(body.choices[0]!.message.content.length).toBeGreaterThan(0);
      // An admin key for the status page and /v1/quota, written and printed on the first run.
      const adminKey = /Status page: \S+ \(admin key: (\S+)\)/.exec(start.output())?.[1];
      expect(adminKey).toMatch(/^sk-admin-/);
      expect(readFileSync(devVars, "utf8")).toContain(`ADMIN_API_KEYS=${adminKey}`);
      expect((await fetch(`${start.url}/v1/quota`, { headers: { authorization: `Bearer ${adminKey}` } })).status).toBe(200);
      // The tiny model is written with room for Claude Code's first request (one token a byte).
      expect(sidecarContextSize(state)).toBe(131_072);
    } finally {
      start.child.kill("SIGINT");
    }
    const code = await new Promise<number | null>((resolve) => start.child.once("exit", resolve));
    expect(code).toBe(0);
    expect(start.output()).toContain("SIGTERM, stopping");
  });

  it("runs the user's own config from ROUTER_CONFIG in .dev.vars, and says so", async () => {
    const state = mkdtempSync(join(tmpdir(), "inferrouter-start-own-"));
    const devVars = join(state, "dev.vars");
    const config = { routes: { default: ["mine"] }, providers: { mine: { type: "local_gguf", base_url: "http://127.0.0.1:1/v1", model: "local", api_key_secret: "SIDECAR_TOKEN" } } };
    writeFileSync(devVars, `ROUTER_CONFIG='${JSON.stringify(config)}'\nPROXY_API_KEYS=sk-local-own\n`);
    const args = [join(root, "scripts/start.ts"), "--state-dir", state, "--dev-vars", devVars, "--port", String(await freePort()), "--sidecar-port", String(await freePort()), "--context-size", "4096"];
    const start = await startProcess(process.execPath, args, { ready: /InferRouter is running at (http:\/\/\S+)\/v1/, timeoutMs: 120_000, cwd: root });
    try {
      expect(start.output()).toContain(`npm start: config from ROUTER_CONFIG in ${devVars}`);
      expect(sidecarContextSize(state)).toBe(4096);
      const res = await fetch(`${start.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: "Bearer sk-local-own", "content-type": "application/json" },
        body: JSON.stringify({ model: "default", max_tokens: 4, messages: [{ role: "user", content: "Hello" }] }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-inferrouter-provider")).toBe("mine");
    } finally {
      start.child.kill("SIGINT");
    }
    expect(await new Promise<number | null>((resolve) => start.child.once("exit", resolve))).toBe(0);
  });
});
