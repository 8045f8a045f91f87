// npm run check-config [FILE]: validates ROUTER_CONFIG before a deploy, with the same schema and
// messages the Worker uses. FILE is a wrangler.toml (its [vars.ROUTER_CONFIG]), a TOML file with the
// config at its top level, or a JSON file holding the config; default wrangler.toml. `--schema` prints the config's JSON Schema instead.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import { fileProblem, parseCommandLine } from "../shared/cli.ts";
import { parseRouterConfig, routeParts, type RouterConfig } from "../shared/config.ts";
import { schemaFileText } from "./docs-config.ts";

/** Cloudflare's cap on one Worker variable (ROUTER_CONFIG as a [vars] entry). */
export const WORKER_VAR_LIMIT_BYTES = 5 * 1024;

export function readConfigFile(path: string): unknown {
  return withRoutesAndProviders(readConfigValue(path));
}

/** The config inside a file: JSON as is, a wrangler.toml's [vars.ROUTER_CONFIG], or a TOML config at the top level. */
function readConfigValue(path: string): unknown {
  const text = readFileSync(path, "utf8");
  if (/\.json$/i.test(path)) return JSON.parse(text);
  const toml = parseToml(text) as { vars?: { ROUTER_CONFIG?: unknown }; routes?: unknown; providers?: unknown; name?: unknown; main?: unknown };
  if (toml.vars?.ROUTER_CONFIG !== undefined) return toml.vars.ROUTER_CONFIG;
  if (toml.routes !== undefined || toml.providers !== undefined) return toml;
  throw new Error(toml.name !== undefined || toml.main !== undefined
    ? `a wrangler.toml without a [vars.ROUTER_CONFIG] table: add one, or pass your config file (router.toml)`
    : `no routes: a config file needs [routes] and [providers] at its top level (or [vars.ROUTER_CONFIG] in a wrangler.toml)`);
}

/** A config missing one of its two tables gets a sentence naming it, not the schema's "expected record". */
function withRoutesAndProviders(config: unknown): unknown {
  if (typeof config !== "object" || config === null || Array.isArray(config)) return config;
  const { routes, providers } = config as { routes?: unknown; providers?: unknown };
  if (routes === undefined && providers !== undefined) throw new Error(`no routes: add a [routes] table naming the providers each route tries, e.g. chat = ["${Object.keys(providers as object)[0] ?? "groq"}"]`);
  if (providers === undefined && routes !== undefined) throw new Error(`no providers: add a [providers.NAME] table for each provider its routes name (type, base_url, model, api_key_secret)`);
  return config;
}

/** The config `npm run deploy -- --dry-run --outdir DIR --config FILE` leaves beside the bundle, for `serve --bundle DIR`. */
export const BUNDLED_CONFIG_FILE = "router-config.json";

/**
 * Which config a run uses, and why: --config when given, else the one deployed with a --bundle
 * (its router-config.json), else wrangler.toml's example.
 */
export function configToRun(config: string | undefined, bundle: string | undefined, wranglerToml: string): { path: string; source: string } {
  if (config) return { path: resolve(config), source: "--config" };
  const bundled = bundle && join(resolve(bundle), BUNDLED_CONFIG_FILE);
  if (bundled && existsSync(bundled)) return { path: bundled, source: `the config bundled in ${bundle} by npm run deploy` };
  return { path: wranglerToml, source: "wrangler.toml's example [vars.ROUTER_CONFIG]; pass --config FILE for your own" };
}

/** Whether a config file is a wrangler.toml (its config in [vars.ROUTER_CONFIG]) rather than the config itself. */
export function isWranglerToml(path: string): boolean {
  if (/\.json$/i.test(path)) return false;
  const toml = parseToml(readFileSync(path, "utf8")) as { vars?: { ROUTER_CONFIG?: unknown }; name?: unknown; main?: unknown };
  return toml.vars?.ROUTER_CONFIG !== undefined || toml.name !== undefined || toml.main !== undefined;
}

/** The secrets a config expects to find (provider keys, client keys), to remind the operator before a deploy. */
export function secretNames(config: RouterConfig): string[] {
  const names = [
    ...Object.values(config.providers).flatMap((p) => [p.api_key_secret, p.access_client_id_secret, p.access_client_secret_secret]),
    ...Object.values(config.clients).map((client) => client.key_secret),
  ];
  return [...new Set(names.filter((name): name is string => Boolean(name)))];
}

/** Every secret a deployment of this config reads: the router's own keys first, then the config's. */
export function deploymentSecrets(config: RouterConfig): string[] {
  const own = config.auth === "none" ? ["ADMIN_API_KEYS"] : ["PROXY_API_KEYS", "ADMIN_API_KEYS"];
  if (Object.values(config.providers).some((p) => p.type === "local_gguf")) own.push("SIDECAR_TOKEN");
  return [...new Set([...own, ...secretNames(config)])];
}

/** Where the secrets go, for the mode at hand. */
export type SecretsMode = "deploy" | "start" | "serve";
const WHERE: Record<SecretsMode, string> = {
  deploy: "npx wrangler secret put NAME for each (npm run deploy)",
  start: "one NAME=value line each in .dev.vars (npm start)",
  serve: "one file named NAME each in --secrets-dir (npm run serve; default .inferrouter/secrets)",
};
export function secretsLines(config: RouterConfig, modes: SecretsMode[] = ["deploy", "start", "serve"]): string[] {
  return [
    `  secrets it reads: ${deploymentSecrets(config).join(", ")}`,
    "  optional: METRICS_TOKEN (a Prometheus scraper's token for GET /metrics; the admin key works too)",
    ...modes.map((mode) => `    ${mode}: ${WHERE[mode]}`),
  ];
}

/** A config that will not fit a Worker variable (5 KB): deploy it as a file with the Worker instead. */
function sizeProblem(raw: unknown, fromWranglerVar: boolean): string | undefined {
  if (!fromWranglerVar) return undefined;
  const bytes = new TextEncoder().encode(typeof raw === "string" ? raw : JSON.stringify(raw)).length;
  if (bytes <= WORKER_VAR_LIMIT_BYTES) return undefined;
  return `ROUTER_CONFIG is ${bytes} bytes as a Worker variable, over Cloudflare's ${WORKER_VAR_LIMIT_BYTES}-byte limit per variable: move it to router.toml beside wrangler.toml and deploy it built into the Worker with npm run deploy -- --config router.toml`;
}

/** Valid but worth a second look before a deploy. */
export function configWarnings(config: RouterConfig): string[] {
  const warnings: string[] = [];
  if (config.cors_origins.includes("*")) {
    warnings.push('cors_origins = ["*"] lets any web page call the API with a client key it holds; list your app\'s origins instead');
  }
  return warnings;
}

/** Reads and validates a config file: the config, or the one report check-config, start and serve print. */
export function loadConfigFile(path: string): { ok: true; raw: unknown; config: RouterConfig } | { ok: false; report: string } {
  let raw: unknown;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
    raw = readConfigFile(path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { ok: false, report: `${path}: ${fileProblem(e) ?? e.message}` };
  }
  const result = parseRouterConfig(raw);
  if (!result.ok) return { ok: false, report: `${path}: ${result.message}` };
  const tooBig = sizeProblem(raw, /\[vars\.ROUTER_CONFIG/.test(text) || /ROUTER_CONFIG\s*=/.test(text));
  if (tooBig) return { ok: false, report: `${path}: ${tooBig}` };
  return { ok: true, raw, config: result.config };
}

export function checkConfig(path: string, modes?: SecretsMode[]): { ok: boolean; report: string } {
  const loaded = loadConfigFile(path);
  if (!loaded.ok) return loaded;
  const { routes, providers } = loaded.config;
  const lines = [
    `${path}: ROUTER_CONFIG is valid: ${Object.keys(routes).length} routes, ${Object.keys(providers).length} providers`,
    ...Object.entries(routes).map(([name, route]) => {
      const { providers: chain, strategy } = routeParts(route);
      return `  route ${name}: ${chain.join(" -> ")}${strategy === "ordered" ? "" : ` (${strategy})`}`;
    }),
    ...secretsLines(loaded.config, modes),
    ...configWarnings(loaded.config).map((warning) => `  warning: ${warning}`),
  ];
  return { ok: true, report: lines.join("\n") };
}

const USAGE = `usage: npm run check-config [-- FILE | -- --config FILE] [-- --schema]
  checks a router config as the Worker will: FILE is a wrangler.toml (its [vars.ROUTER_CONFIG]), a TOML
  file with the config at its top level (router.toml) or a JSON file (default wrangler.toml)
  --config FILE  the same as FILE, as start, serve and deploy take it
  --schema       print the config's JSON Schema (config.schema.json) instead`;

if (import.meta.main) {
  const { values, positionals } = parseCommandLine({ name: "check-config", usage: USAGE, allowPositionals: true, options: { schema: { type: "boolean" }, config: { type: "string" } } });
  if (values.schema) {
    console.log(schemaFileText().trimEnd());
  } else {
    const { ok, report } = checkConfig(values.config ?? positionals[0] ?? "wrangler.toml");
    (ok ? console.log : console.error)(report);
    process.exitCode = ok ? 0 : 1;
  }
}
