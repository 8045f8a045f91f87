// npm run logpush:setup -- (--r2-bucket NAME | --destination CONF) [--dry-run]: creates the
// Workers Trace Events Logpush job for this Worker through the Cloudflare API, using
// CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN (a token with Logs Edit). For R2 it also needs
// R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY. --dry-run prints the request, secrets redacted.
import { readFileSync } from "node:fs";
import { exitWith, parseCommandLine } from "../shared/cli.ts";
import { parse as parseToml } from "smol-toml";

export const FIELDS = ["Event", "EventTimestampMs", "EventType", "Outcome", "Exceptions", "Logs", "ScriptName"];

export interface SetupOptions {
  accountId: string;
  apiToken: string;
  scriptName: string;
  destination?: string;
  r2Bucket?: string;
  r2AccessKeyId?: string;
  r2SecretAccessKey?: string;
}

export function buildJobRequest(options: SetupOptions): { url: string; init: { method: string; headers: Record<string, string>; body: string } } {
  let destination = options.destination;
  if (!destination) {
    if (!options.r2Bucket) throw new Error("give --r2-bucket NAME or --destination CONF");
    if (!options.r2AccessKeyId || !options.r2SecretAccessKey) throw new Error("R2 needs R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY");
    const query = new URLSearchParams({
      "account-id": options.accountId,
      "access-key-id": options.r2AccessKeyId,
      "secret-access-key": options.r2SecretAccessKey,
    });
    destination = `r2://${options.r2Bucket}/inferrouter/{DATE}?${query}`;
  }
  const body = {
    name: `${options.scriptName}-oplog`,
    dataset: "workers_trace_events",
    destination_conf: destination,
    enabled: true,
    output_options: { field_names: FIELDS, output_type: "ndjson" },
    filter: JSON.stringify({ where: { and: [{ key: "ScriptName", operator: "eq", value: options.scriptName }] } }),
  };
  return {
    url: `https://api.cloudflare.com/client/v4/accounts/${options.accountId}/logpush/jobs`,
    init: {
      method: "POST",
      headers: { authorization: `Bearer ${options.apiToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    },
  };
}

/** The request as --dry-run shows it: the API token and any destination secret redacted. */
export function redacted(request: ReturnType<typeof buildJobRequest>): string {
  const body = JSON.parse(request.init.body) as { destination_conf: string };
  body.destination_conf = body.destination_conf.replace(/(secret-access-key|access-key-id)=[^&]+/g, "$1=[redacted]");
  return JSON.stringify({ method: request.init.method, url: request.url, headers: { ...request.init.headers, authorization: "Bearer [redacted]" }, body }, null, 2);
}

if (import.meta.main) {
  const usage = `usage: npm run logpush:setup -- (--destination URL | --r2-bucket NAME) [--dry-run] [--config wrangler.toml]
  creates the Logpush job that keeps the Worker's operation log as files (Workers Paid plan; deploy with --logpush)
  --destination URL   a Logpush destination_conf (R2, S3, HTTP, ...)
  --r2-bucket NAME    an R2 bucket (with R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY)
  --dry-run           print the API request instead of sending it
  --config FILE       the wrangler.toml naming the Worker (default wrangler.toml)
  needs CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN in the environment`;
  const { values } = parseCommandLine({
    name: "logpush:setup",
    usage,
    options: {
      "dry-run": { type: "boolean", default: false },
      destination: { type: "string" },
      "r2-bucket": { type: "string" },
      config: { type: "string", default: "wrangler.toml" },
    },
  });
  const env = process.env;
  const missing = ["CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN"].filter((name) => !env[name]);
  if (missing.length && !values["dry-run"]) {
    console.error(`logpush:setup needs ${missing.join(" and ")}`);
    process.exit(2);
  }
  let scriptName: string;
  try {
    scriptName = String((parseToml(readFileSync(values.config, "utf8")) as { name?: string }).name ?? "inferrouter");
  } catch (error) {
    exitWith("logpush:setup", error);
  }
  let request: ReturnType<typeof buildJobRequest>;
  try {
    request = buildJobRequest({
      accountId: env.CLOUDFLARE_ACCOUNT_ID ?? "<CLOUDFLARE_ACCOUNT_ID>",
      apiToken: env.CLOUDFLARE_API_TOKEN ?? "",
      scriptName,
      destination: values.destination,
      r2Bucket: values["r2-bucket"],
      r2AccessKeyId: env.R2_ACCESS_KEY_ID,
      r2SecretAccessKey: env.R2_SECRET_ACCESS_KEY,
    });
  } catch (error) {
    console.error(`logpush:setup: ${(error as Error).message}`);
    process.exit(2);
  }
  if (values["dry-run"]) {
    console.log(redacted(request));
  } else {
    const response = await fetch(request.url, request.init).catch((error: unknown) => exitWith("logpush:setup", error));
    const answer = (await response.json()) as { success?: boolean; result?: { id?: number }; errors?: unknown };
    if (!response.ok || !answer.success) {
      console.error(`logpush:setup failed (${response.status}): ${JSON.stringify(answer.errors)}`);
      process.exit(1);
    }
    console.log(`Logpush job ${answer.result?.id} created for Worker ${scriptName}`);
  }
}
