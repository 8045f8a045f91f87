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
    expect(report).toContain("route free: openrouter -> openrouter_deepseek -> gemini -> local (least_used)");
    expect(report).toContain("GROQ_API_KEY");
    expect(report).toContain("CI_CLIENT_KEYS");
  });

  it("names the path of a routing mistake: a provider in a quota group with limits of its own, unknown routes and groups", () => {
    const file = join(dir, "routing.json");
    const p = (extra: Record<string, unknown>) => ({ type: "openai_compatible", base_url: "https://x.test/v1", model: "m", ...extra });
    writeFileSync(file, JSON.stringify({
      routes: { table: { providers: ["a", "ghost"], strategy: "least_used" } },
      providers: { a: p({ quota_group: "free", requests_per_minute: 5 }), b: p({ quota_group: "nope" }) },
      quota_groups: { free: { requests_per_day: 50 } },
      clients: { ci: { key_secret: "CI_KEY", routes: ["missing"] } },
    }));
    const { ok, report } = checkConfig(file);
    expect(ok).toBe(false);
    for (const path of ["routes.table.providers[1]", "providers.a.requests_per_minute", "providers.b.quota_group", "clients.ci.routes[0]"]) {
      expect(report).toContain(path);
    }
    expect(report).toContain('a provider in quota group "free" takes the group\'s limits');

    writeFileSync(file, JSON.stringify({
      routes: { odd: { providers: ["a"], strategy: "random" } },
      providers: { a: p({}) },
      clients: { bad: { routes: ["odd"] } },
    }));
    const shape = checkConfig(file);
    expect(shape.ok).toBe(false);
    expect(shape.report).toContain("routes.odd");
    expect(shape.report).toContain("a route is a list of provider ids, or a table");
    expect(shape.report).toContain("clients.bad.key_secret");
  });

  it("names the bad path in a JSON config and exits 1", () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ routes: { default: ["ghost"] }, providers: { a: { type: "openai_compatible", base_url: "https://x.test/v1", model: "m", timeout_ms: -5 } } }));
    const run = spawnSync(process.execPath, [join(root, "scripts/check-config.ts"), file], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("routes.default[0]");
    expect(run.stderr).toContain("providers.a.timeout_ms");
  });

  it("names each malformed key: base_url with a query, header names, a negative retries", () => {
    const file = join(dir, "hygiene.json");
    const a = {
      type: "openai_compatible",
      base_url: "https://x.test/v1?key=abc",
      model: "m",
      api_key_header: "bad header",
      headers: { "x-api-key": "sk-plain", "bad name": "v" },
      access_client_id_secret: "CF_ID",
      body_overrides: { model: "other" },
      retries: -1,
    };
    writeFileSync(file, JSON.stringify({ routes: { default: ["a"] }, providers: { a } }));
    const { ok, report } = checkConfig(file);
    expect(ok).toBe(false);
    for (const path of ["providers.a.base_url", "providers.a.api_key_header", 'providers.a.headers["bad name"]', "providers.a.retries"]) {
      expect(report).toContain(path);
    }
    expect(report).toContain("base_url may not have a query or a fragment");
    expect(report).toContain("not a valid HTTP header name");
  });

  it("names refinements that only run on an otherwise valid provider (key headers, Access secrets, body tables)", () => {
    const file = join(dir, "refinements.json");
    const a = {
      type: "openai_compatible",
      base_url: "https://x.test/v1",
      model: "m",
      headers: { "X-Api-Key": "sk-plain", "x-auth-token": "sk-live-abcdefghijklmnop" },
      api_key_header: "content-type",
      access_client_id_secret: "CF_ID",
      body_overrides: { model: "other" },
      // An unrelated error does not hide the checks above (check-config names every bad path at once).
      timeout_ms: -1,
    };
    writeFileSync(file, JSON.stringify({ routes: { default: ["a"] }, providers: { a } }));
    const { ok, report } = checkConfig(file);
    expect(ok).toBe(false);
    expect(report).toContain(`providers.a.headers["X-Api-Key"]`);
    expect(report).toContain("keys do not go in headers");
    expect(report).toContain("providers.a.access_client_id_secret");
    expect(report).toContain("providers.a.body_overrides.model");
    expect(report).toContain(`providers.a.headers["x-auth-token"]`);
    expect(report).toContain("content-type is set by the edge");
    expect(report).toContain("providers.a.timeout_ms");
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

  it("tells a wrangler.toml without [vars.ROUTER_CONFIG] from a config file without routes", () => {
    const file = join(dir, "empty.toml");
    writeFileSync(file, 'name = "x"\n');
    expect(checkConfig(file)).toEqual({ ok: false, report: `${file}: a wrangler.toml without a [vars.ROUTER_CONFIG] table: add one, or pass your config file (router.toml)` });
    writeFileSync(file, 'default_route = "x"\n');
    expect(checkConfig(file).report).toBe(`${file}: no routes: a config file needs [routes] and [providers] at its top level (or [vars.ROUTER_CONFIG] in a wrangler.toml)`);
  });

  it("names the missing table when a config has providers but no routes, or routes but no providers (TOML, JSON, wrangler.toml)", () => {
    const file = join(dir, "half.toml");
    writeFileSync(file, '[providers.a]\ntype = "openai_compatible"\nbase_url = "https://x.test/v1"\nmodel = "m"\n');
    expect(checkConfig(file)).toEqual({ ok: false, report: `${file}: no routes: add a [routes] table naming the providers each route tries, e.g. chat = ["a"]` });
    writeFileSync(file, '[routes]\nchat = ["a"]\n');
    expect(checkConfig(file)).toEqual({ ok: false, report: `${file}: no providers: add a [providers.NAME] table for each provider its routes name (type, base_url, model, api_key_secret)` });
    const json = join(dir, "half.json");
    writeFileSync(json, JSON.stringify({ routes: { chat: ["a"] } }));
    expect(checkConfig(json).report).toBe(`${json}: no providers: add a [providers.NAME] table for each provider its routes name (type, base_url, model, api_key_secret)`);
    const wrangler = join(dir, "wrangler-half.toml");
    writeFileSync(wrangler, 'name = "x"\n[vars.ROUTER_CONFIG.providers.a]\nmodel = "m"\n');
    expect(checkConfig(wrangler).report).toContain(`${wrangler}: no routes: add a [routes] table`);
  });

  it("catches copy-paste mistakes: base_url with the endpoint path (says what to cut), a misspelt provider (the closest name)", () => {
    const file = join(dir, "pasted.json");
    const p = (base_url: string) => ({ type: "openai_compatible", base_url, model: "m" });
    writeFileSync(file, JSON.stringify({
      routes: { default: ["groq", "openroutr"] },
      providers: { groq: p("https://api.groq.com/openai/v1/chat/completions"), openrouter: p("https://openrouter.ai/api/v1/embeddings/") },
    }));
    const run = spawnSync(process.execPath, [join(root, "scripts/check-config.ts"), file], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("base_url ends in /chat/completions: cut it (use https://api.groq.com/openai/v1)");
    expect(run.stderr).toContain("at providers.groq.base_url");
    expect(run.stderr).toContain("base_url ends in /embeddings/: cut it (use https://openrouter.ai/api/v1)");
    expect(run.stderr).toContain("at providers.openrouter.base_url");
    expect(run.stderr).toContain('unknown provider "openroutr" (did you mean "openrouter"?)');
    expect(run.stderr).toContain("at routes.default[1]");
    expect(run.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/); // no stack trace
  });

  it("lists every secret the deployment needs and where each mode keeps them", () => {
    const { ok, report } = checkConfig(join(root, "wrangler.toml"));
    expect(ok).toBe(true);
    const secrets = /secrets it reads: (.*)/.exec(report)![1]!.split(", ");
    expect(secrets.slice(0, 2)).toEqual(["PROXY_API_KEYS", "ADMIN_API_KEYS"]);
    expect(secrets).toEqual(expect.arrayContaining(["SIDECAR_TOKEN", "GROQ_API_KEY", "CI_CLIENT_KEYS"]));
    expect(report).toContain("optional: METRICS_TOKEN");
    expect(report).toContain("deploy: npx wrangler secret put NAME");
    expect(report).toContain("start: one NAME=value line each in .dev.vars");
    expect(report).toContain("serve: one file named NAME each in --secrets-dir");
  });

  it("fails a ROUTER_CONFIG Worker variable over Cloudflare's 5 KB, with that reason; the same config as router.toml passes", () => {
    const providers = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`provider_${i}`, { type: "openai_compatible", base_url: `https://p${i}.example.test/v1`, model: `model-number-${i}` }]));
    const config = { routes: { default: Object.keys(providers) }, providers };
    const wrangler = join(dir, "big-wrangler.toml");
    writeFileSync(wrangler, `name = "x"\n[vars]\nROUTER_CONFIG = ${JSON.stringify(JSON.stringify(config))}\n`);
    const big = checkConfig(wrangler);
    expect(big.ok).toBe(false);
    expect(big.report).toMatch(/ROUTER_CONFIG is \d+ bytes as a Worker variable, over Cloudflare's 5120-byte limit per variable: move it to router.toml.*npm run deploy -- --config router\.toml/);
    const file = join(dir, "big.json");
    writeFileSync(file, JSON.stringify(config));
    expect(checkConfig(file).ok).toBe(true);
  });

  it("prints the config's JSON Schema for editors", () => {
    const schema = JSON.parse(execFileSync(process.execPath, [join(root, "scripts/check-config.ts"), "--schema"], { encoding: "utf8" }));
    expect(schema.properties.providers.additionalProperties.properties.type.enum).toEqual(["openai_compatible", "local_gguf", "anthropic"]);
    expect(schema.required).toEqual(["routes", "providers"]);
    const provider = schema.properties.providers.additionalProperties.properties;
    for (const key of ["context_window", "max_output_tokens", "capabilities", "weight", "quota_group", "anthropic_version", "anthropic_beta"]) expect(provider).toHaveProperty(key);
    expect(Object.keys(schema.properties.quota_groups.additionalProperties.properties).sort()).toEqual(
      ["budget_usd_per_day", "budget_usd_per_month", "daily_reset_tz", "requests_per_day", "requests_per_minute", "tokens_per_day", "tokens_per_minute"],
    );
    expect(Object.keys(schema.properties.clients.additionalProperties.properties).sort()).toEqual(
      ["budget_usd_per_day", "budget_usd_per_month", "key_secret", "requests_per_day", "requests_per_minute", "routes", "tokens_per_day", "tokens_per_minute"],
    );
    const table = schema.properties.routes.additionalProperties.anyOf.find((form: { type: string }) => form.type === "object");
    expect(table.properties.strategy.enum).toEqual(["ordered", "weighted", "least_used", "cheapest"]);
  });
});
