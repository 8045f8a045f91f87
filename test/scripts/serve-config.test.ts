// The pieces of `npm run serve` that need no process: the generated workerd config, the daily
// log files, and a router config read from a top-level TOML file.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readConfigFile } from "../../scripts/check-config.ts";
import { DailyLog, isOperationLine } from "../../scripts/serve/daily-log.ts";
import { workerdConfig } from "../../scripts/serve/workerd-config.ts";

const worker = {
  modulePath: "/tmp/bundle/index.js",
  compatibilityDate: "2026-11-01",
  compatibilityFlags: ["nodejs_compat"],
  vars: { ROUTER_CONFIG: { routes: { default: ["a"] }, note: 'quote " and \\ and\nnewline' }, GREETING: "hi" },
  durableObjects: [{ binding: "QUOTA", className: "QuotaTracker", sql: true }],
};

describe("workerd config", () => {
  it("binds vars, SQLite Durable Objects on local disk, and read-only directories as services; no secret values", () => {
    const text = workerdConfig({ worker, address: "127.0.0.1:8787", stateDir: "/data/state", readDirs: { SECRETS_DIR: "/run/secrets", LOGS_DIR: "/data/logs" } });
    expect(text).toContain('(name = "state", disk = (path = "/data/state", writable = true))');
    expect(text).toContain('(name = "dir-secrets_dir", disk = (path = "/run/secrets", writable = false))');
    expect(text).toContain('(name = "SECRETS_DIR", service = "dir-secrets_dir")');
    expect(text).toContain('(name = "LOGS_DIR", service = "dir-logs_dir")');
    expect(text).toContain('(name = "GREETING", text = "hi")');
    expect(text).toContain('(name = "QUOTA", durableObjectNamespace = "QuotaTracker")');
    expect(text).toContain('(className = "QuotaTracker", uniqueKey = "QUOTA-QuotaTracker", enableSql = true)');
    expect(text).toContain('durableObjectStorage = (localDisk = "state")');
    expect(text).toContain('esModule = embed "index.js"');
    expect(text).toContain("structuredLogging = true");
    // The JSON var survives Cap'n Proto string escaping.
    const json = /\(name = "ROUTER_CONFIG", json = "((?:[^"\\]|\\.)*)"\)/.exec(text)![1]!;
    const unescaped = json.replace(/\\(x[0-9a-f]{2}|.)/g, (_, e: string) => (e.startsWith("x") && e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : ({ n: "\n", r: "\r", t: "\t" } as Record<string, string>)[e] ?? e));
    expect(JSON.parse(unescaped)).toEqual(worker.vars.ROUTER_CONFIG);
  });
});

describe("workerd config: bundled text modules", () => {
  it("embeds each module wrangler wrote beside the entry (Text rules) under the name the entry imports", () => {
    const text = workerdConfig({ worker: { ...worker, textModules: ["5b16-uPlot.iife.min.js"] }, address: "127.0.0.1:8787" });
    expect(text).toContain('(name = "5b16-uPlot.iife.min.js", text = embed "5b16-uPlot.iife.min.js")');
  });
});

describe("daily log files", () => {
  it("appends each line to the file of its own UTC day", () => {
    const dir = mkdtempSync(join(tmpdir(), "daily-"));
    const log = new DailyLog(dir);
    const lines = ['{"ts":"2026-11-30T23:59:59.999Z","event":"infer_started"}', '{"ts":"2026-12-01T00:00:00.000Z","event":"infer_completed"}'];
    for (const line of lines) log.write(line);
    log.close();
    expect(readFileSync(join(dir, "operations-2026-11-30.jsonl"), "utf8")).toBe(`${lines[0]}\n`);
    expect(readFileSync(join(dir, "operations-2026-12-01.jsonl"), "utf8")).toBe(`${lines[1]}\n`);
    expect(isOperationLine(lines[0])).toBe(true);
    expect(isOperationLine('{"event":"edge_error"}')).toBe(false);
  });
});

describe("--config FILE", () => {
  it("reads a TOML file holding the config at its top level, as well as a wrangler.toml", () => {
    const dir = mkdtempSync(join(tmpdir(), "config-"));
    writeFileSync(join(dir, "router.toml"), '[routes]\ndefault = ["a"]\n\n[providers.a]\ntype = "openai_compatible"\nbase_url = "http://127.0.0.1:1/v1"\nmodel = "m"\n');
    expect(readConfigFile(join(dir, "router.toml"))).toMatchObject({ routes: { default: ["a"] }, providers: { a: { model: "m" } } });
    writeFileSync(join(dir, "wrangler.toml"), 'name = "x"\n[vars.ROUTER_CONFIG.routes]\ndefault = ["b"]\n[vars.ROUTER_CONFIG.providers.b]\nmodel = "m"\n');
    expect(readConfigFile(join(dir, "wrangler.toml"))).toEqual({ routes: { default: ["b"] }, providers: { b: { model: "m" } } });
    writeFileSync(join(dir, "empty.toml"), 'name = "x"\n');
    expect(() => readConfigFile(join(dir, "empty.toml"))).toThrow(/a wrangler.toml without a \[vars.ROUTER_CONFIG\] table/);
  });
});
