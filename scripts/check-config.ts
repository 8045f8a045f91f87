// npm run check-config [FILE]: validates ROUTER_CONFIG before a deploy, with the same schema and
// messages the Worker uses. FILE is a wrangler.toml (its [vars.ROUTER_CONFIG]), a TOML file with the
// config at its top level, or a JSON file holding the config; default wrangler.toml. `--schema` prints the config's JSON Schema instead.
import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import * as z from "zod";
import { parseRouterConfig, routeParts, RouterConfigSchema, type RouterConfig } from "../shared/config.ts";

export function readConfigFile(path: string): unknown {
  const text = readFileSync(path, "utf8");
  if (/\.json$/i.test(path)) return JSON.parse(text);
  const toml = parseToml(text) as { vars?: { ROUTER_CONFIG?: unknown }; routes?: unknown };
  // A wrangler.toml, or a TOML file holding the config itself at the top level (npm run serve --config).
  if (toml.vars?.ROUTER_CONFIG === undefined && toml.routes !== undefined) return toml;
  if (toml.vars?.ROUTER_CONFIG === undefined) throw new Error(`${path} has no [vars.ROUTER_CONFIG] table`);
  return toml.vars.ROUTER_CONFIG;
}

/** The secrets a config expects to find (provider keys), to remind the operator before a deploy. */
export function secretNames(config: RouterConfig): string[] {
  const names = [
    ...Object.values(config.providers).flatMap((p) => [p.api_key_secret, p.access_client_id_secret, p.access_client_secret_secret]),
    ...Object.values(config.clients).map((client) => client.key_secret),
  ];
  return [...new Set(names.filter((name): name is string => Boolean(name)))];
}

/** Valid but worth a second look before a deploy. */
export function configWarnings(config: RouterConfig): string[] {
  const warnings: string[] = [];
  if (config.cors_origins.includes("*")) {
    warnings.push('cors_origins = ["*"] lets any web page call the API with a client key it holds; list your app\'s origins instead');
  }
  return warnings;
}

export function checkConfig(path: string): { ok: boolean; report: string } {
  let raw: unknown;
  try {
    raw = readConfigFile(path);
  } catch (error) {
    return { ok: false, report: `${path}: ${(error as Error).message}` };
  }
  const result = parseRouterConfig(raw);
  if (!result.ok) return { ok: false, report: `${path}: ${result.message}` };
  const { routes, providers } = result.config;
  const lines = [
    `${path}: ROUTER_CONFIG is valid: ${Object.keys(routes).length} routes, ${Object.keys(providers).length} providers`,
    ...Object.entries(routes).map(([name, route]) => {
      const { providers: chain, strategy } = routeParts(route);
      return `  route ${name}: ${chain.join(" -> ")}${strategy === "ordered" ? "" : ` (${strategy})`}`;
    }),
    `  secrets it reads (wrangler secret put NAME, or .dev.vars locally): ${secretNames(result.config).join(", ") || "none"}`,
    ...configWarnings(result.config).map((warning) => `  warning: ${warning}`),
  ];
  return { ok: true, report: lines.join("\n") };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.includes("--schema")) {
    console.log(JSON.stringify(z.toJSONSchema(RouterConfigSchema, { io: "input" }), null, 2));
  } else {
    const { ok, report } = checkConfig(args[0] ?? "wrangler.toml");
    (ok ? console.log : console.error)(report);
    process.exitCode = ok ? 0 : 1;
  }
}
