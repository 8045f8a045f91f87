import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkConfig } from "../../scripts/check-config.ts";

const root = new URL("../../", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "check-config-"));

describe("npm run check-config", () => {
  it("accepts the example config in wrangler.toml and lists the secrets it reads", () => {
    const { ok, report } = checkConfig(join(root, "wrangler.toml"));
    expect(ok).toBe(true);
    expect(report).toContain("route default: groq -> openrouter -> gemini -> local");
    expect(report).toContain("GROQ_API_KEY");
  });

  it("names the bad path in a JSON config and exits 1", () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ routes: { default: ["ghost"] }, providers: { a: { type: "openai_compatible", base_url: "https://x.test/v1", model: "m", timeout_ms: -5 } } }));
    const run = spawnSync(process.execPath, [join(root, "scripts/check-config.ts"), file], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("routes.default[0]");
    expect(run.stderr).toContain("providers.a.timeout_ms");
  });

  it("accepts cors_origins = [\"*\"] only with a warning", () => {
    const file = join(dir, "cors.json");
    const config = { cors_origins: ["*"], routes: { default: ["a"] }, providers: { a: { type: "openai_compatible", base_url: "https://x.test/v1", model: "m" } } };
    writeFileSync(file, JSON.stringify(config));
    const { ok, report } = checkConfig(file);
    expect(ok).toBe(true);
    expect(report).toContain('warning: cors_origins = ["*"]');
    writeFileSync(file, JSON.stringify({ ...config, cors_origins: ["https://app.example"] }));
    expect(checkConfig(file).report).not.toContain("warning");
  });

  it("names the route whose embedding providers declare different spaces", () => {
    const file = join(dir, "spaces.json");
    const embedder = (space: string) => ({ type: "openai_compatible", base_url: "https://x.test/v1", model: "m", endpoint: "embeddings", embedding_space: space });
    writeFileSync(file, JSON.stringify({ routes: { vectors: ["a", "b"] }, providers: { a: embedder("nomic@768"), b: embedder("bge@1024") } }));
    const { ok, report } = checkConfig(file);
    expect(ok).toBe(false);
    expect(report).toContain("routes.vectors[1]");
    expect(report).toContain("bge@1024");
  });

  it("reports a TOML file without [vars.ROUTER_CONFIG]", () => {
    const file = join(dir, "empty.toml");
    writeFileSync(file, 'name = "x"\n');
    expect(checkConfig(file)).toEqual({ ok: false, report: `${file}: ${file} has no [vars.ROUTER_CONFIG] table` });
  });

  it("prints the config's JSON Schema for editors", () => {
    const schema = JSON.parse(execFileSync(process.execPath, [join(root, "scripts/check-config.ts"), "--schema"], { encoding: "utf8" }));
    expect(schema.properties.providers.additionalProperties.properties.type.enum).toEqual(["openai_compatible", "local_gguf"]);
    expect(schema.required).toEqual(["routes", "providers"]);
  });
});
