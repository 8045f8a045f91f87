// The generated config reference and JSON Schema stay in step with shared/config.ts, and every
// config users copy (the example files, every TOML config block in README.md and docs/) is valid
// both for the router and for an editor validating against config.schema.json.
import { globSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { parseRouterConfig } from "../../shared/config.ts";
import { readConfigFile } from "../../scripts/check-config.ts";
import { REFERENCE_FILE, SCHEMA_FILE, referenceFileText, schemaFileText } from "../../scripts/docs-config.ts";

const root = new URL("../../", import.meta.url).pathname;
const read = (file: string) => readFileSync(join(root, file), "utf8");
const editorSchema = z.fromJSONSchema(JSON.parse(read(SCHEMA_FILE)));

/** Both checks a user meets: the editor's (JSON Schema) and the router's (zod, cross-field rules included). */
function expectValid(config: unknown, where: string) {
  const editor = editorSchema.safeParse(config);
  expect(editor.success, `${where} fails config.schema.json: ${editor.error?.message}`).toBe(true);
  const router = parseRouterConfig(config);
  expect(router.ok, `${where}: ${router.ok ? "" : router.message}`).toBe(true);
}

type Config = Record<string, unknown>;
const TABLES = ["routes", "providers", "quota_groups", "clients"] as const;
const CONFIG_KEYS = new Set(Object.keys(JSON.parse(read(SCHEMA_FILE)).properties));
/** Top-level tables of the TOML blocks that are not router config: wrangler.toml's own, and .taplo.toml's. */
const OTHER_TOML_KEYS = new Set(["secrets_store_secrets", "observability", "rule", "logpush"]);

/** Fenced ```toml blocks of a markdown file (list-indented ones too), with their line numbers. */
function tomlBlocks(markdown: string): { line: number; text: string }[] {
  return [...markdown.matchAll(/^( *)```toml\n([\s\S]*?)^\1```/gm)].map((match) => ({
    line: markdown.slice(0, match.index).split("\n").length,
    text: match[2]!.replace(new RegExp(`^${match[1]}`, "gm"), ""),
  }));
}

/**
 * A docs block is a piece of a config: it is laid over the example config table by table (a
 * provider, route, group or client it writes replaces the example's of that name), and providers
 * no route names get a route of their own, so each is checked in a route as a user would use it.
 */
function overlay(example: Config, block: Config): Config {
  const config: Config = { ...example };
  for (const [key, value] of Object.entries(block)) {
    config[key] = (TABLES as readonly string[]).includes(key) ? { ...(example[key] as object), ...(value as object) } : value;
  }
  const routed = new Set(Object.values(config.routes as Record<string, unknown>).flatMap((route) => (Array.isArray(route) ? route : (route as { providers: string[] }).providers)));
  const unrouted = Object.keys((block.providers ?? {}) as object).filter((id) => !routed.has(id));
  if (unrouted.length) config.routes = { ...(config.routes as object), docs_block: unrouted };
  return config;
}

/** The block's router config: under [vars.ROUTER_CONFIG] (wrangler.toml form) or at its top level; undefined for other TOML (wrangler's own tables, .taplo.toml). */
function configOf(toml: Config): Config | undefined {
  const vars = toml.vars as { ROUTER_CONFIG?: Config } | undefined;
  if (vars?.ROUTER_CONFIG) return vars.ROUTER_CONFIG;
  return Object.keys(toml).some((key) => CONFIG_KEYS.has(key)) ? toml : undefined;
}

const example = readConfigFile(join(root, "wrangler.toml")) as Config;
const docs = ["README.md", ...globSync("docs/**/*.md", { cwd: root })];

describe("npm run docs:config", () => {
  it("has written config.schema.json and docs/configuration.md from the current schema", () => {
    expect(read(SCHEMA_FILE), "config.schema.json is stale: run npm run docs:config").toBe(schemaFileText());
    expect(read(REFERENCE_FILE), "docs/configuration.md is stale: run npm run docs:config").toBe(referenceFileText(read(REFERENCE_FILE)));
  });

  it("documents every key with its default, global and per-provider keys apart", () => {
    const reference = read(REFERENCE_FILE);
    expect(reference).toMatch(/### Global keys[\s\S]*### Provider keys/);
    expect(reference).toContain("| `max_attempts` | integer > 0 | `8` | global |".replace(">", "&gt;"));
    expect(reference).toContain("| `providers.<id>.timeout_ms` | integer &gt; 0 | 30000; local_gguf 120000 | provider |");
    expect(reference).toContain("| `clients.<name>.key_secret` | string | required | client |");
    expect(reference).toContain("| `quota_groups.<name>.daily_reset_tz` | string | UTC | quota group |");
  });

  it("writes a schema that refuses what the router refuses (unknown keys, wrong types)", () => {
    const provider = { type: "openai_compatible", base_url: "https://api.example.com/v1", model: "m" };
    expect(editorSchema.safeParse({ routes: { a: ["p"] }, providers: { p: provider } }).success).toBe(true);
    expect(editorSchema.safeParse({ routes: { a: ["p"] }, providers: { p: { ...provider, timeout: 5 } } }).success).toBe(false);
    expect(editorSchema.safeParse({ routes: { a: ["p"] }, providers: { p: { ...provider, timeout_ms: "5s" } } }).success).toBe(false);
    expect(editorSchema.safeParse({ routes: { a: { providers: ["p"], strategy: "fastest" } }, providers: { p: provider } }).success).toBe(false);
  });
});

describe("example configs", () => {
  const files = ["wrangler.toml", ...globSync(["*.toml", "sidecar/*.toml", "examples/**/*.{toml,json}"], { cwd: root }).filter((file) => file !== "wrangler.toml")];

  it.each(files)("%s validates against config.schema.json and the router's check", (file) => {
    expectValid(readConfigFile(join(root, file)), file);
  });

  it("accepts a $schema key, so JSON and TOML configs can point editors at config.schema.json", () => {
    expectValid({ $schema: "./config.schema.json", ...example }, "example with $schema");
  });
});

describe("config blocks in the docs", () => {
  const blocks = docs.flatMap((file) => tomlBlocks(read(file)).map((block) => ({ where: `${file}:${block.line}`, ...block })));

  it("finds the blocks (a cookbook block per provider among them)", () => {
    expect(blocks.filter((block) => block.where.startsWith("docs/providers.md")).length).toBeGreaterThanOrEqual(12);
  });

  const parsed = blocks.map((block) => ({ ...block, toml: parseToml(block.text) as Config }));
  const configs = parsed.flatMap(({ where, toml }) => {
    const config = configOf(toml);
    return config ? [{ where, config }] : [];
  });

  it.each(configs)("$where is valid", ({ where, config }) => {
    expectValid(overlay(example, config), where);
  });

  it("has no other TOML than wrangler.toml's own tables and .taplo.toml", () => {
    const others = parsed.filter(({ toml }) => configOf(toml) === undefined);
    for (const { where, toml } of others) expect(Object.keys(toml).filter((key) => !OTHER_TOML_KEYS.has(key)), where).toEqual([]);
  });

  it("the cookbook's blocks make one valid config together (no clashing ids, secrets or groups)", () => {
    const cookbook = configs.filter(({ where }) => where.startsWith("docs/providers.md:")).map(({ config }) => config);
    const together = cookbook.reduce((config, block) => overlay(config, block), example);
    expectValid(together, "docs/providers.md, every block");
  });

  it("the cookbook names every provider the issue asks for", () => {
    const cookbook = read("docs/providers.md");
    for (const heading of ["Groq", "OpenRouter", "Gemini", "Cerebras", "Mistral", "DeepSeek", "Together", "Fireworks", "OpenAI", "Azure OpenAI", "Workers AI", "Ollama", "LM Studio", "vLLM", "llama.cpp"]) {
      expect(cookbook).toMatch(new RegExp(`^## .*${heading.replace(".", "\\.")}`, "m"));
    }
  });
});
