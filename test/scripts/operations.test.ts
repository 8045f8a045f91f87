import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventsOfInvocation } from "../../scripts/logs-extract.ts";
import { buildJobRequest, FIELDS } from "../../scripts/logpush-setup.ts";

const root = new URL("../../", import.meta.url).pathname;
const fixtures = join(root, "test/scripts/fixtures");
const node = (script: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [join(root, script), ...args], { encoding: "utf8", env: { ...process.env, ...env } });

describe("npm run logs:extract", () => {
  it("turns gzipped and plain Logpush files into one InferRouter event per line", () => {
    const out = join(mkdtempSync(join(tmpdir(), "logs-")), "events.jsonl");
    const run = node("scripts/logs-extract.ts", [join(fixtures, "logpush-20261124.log.gz"), join(fixtures, "logpush-plain.log"), "--out", out]);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain("7 events from 2 file(s)");
    const events = readFileSync(out, "utf8").trim().split("\n").map((line) => JSON.parse(line));
    expect(events.map((e) => `${e.request_id}:${e.event}`)).toEqual([
      "r1:infer_started",
      "r1:infer_fallback",
      "r1:infer_completed",
      "r2:infer_started",
      "r2:infer_failed",
      "r3:infer_started",
      "r3:infer_cancelled",
    ]);
    expect(events[1]).toMatchObject({ provider: "groq", category: "RateLimit", status: 429 });
  });

  it("ignores log lines that are not InferRouter events", () => {
    const line = JSON.stringify({ Logs: [{ Message: ["hello", '{"note":1}', '{"event":"something_else"}', 42] }] });
    expect(eventsOfInvocation(line)).toEqual([]);
    expect(eventsOfInvocation("not json")).toEqual([]);
  });

  it("prints usage without files", () => {
    const run = node("scripts/logs-extract.ts", []);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("usage");
  });
});

describe("npm run logpush:setup", () => {
  it("--dry-run prints the job for this Worker with every secret redacted", () => {
    const env = { CLOUDFLARE_ACCOUNT_ID: "acc123", CLOUDFLARE_API_TOKEN: "cf-token-secret", R2_ACCESS_KEY_ID: "r2-key-id", R2_SECRET_ACCESS_KEY: "r2-secret" };
    const run = node("scripts/logpush-setup.ts", ["--r2-bucket", "logs", "--dry-run"], env);
    expect(run.status).toBe(0);
    const request = JSON.parse(run.stdout);
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://api.cloudflare.com/client/v4/accounts/acc123/logpush/jobs");
    expect(request.body).toMatchObject({ name: "inferrouter-oplog", dataset: "workers_trace_events", enabled: true, output_options: { field_names: FIELDS, output_type: "ndjson" } });
    expect(request.body.destination_conf).toBe("r2://logs/inferrouter/{DATE}?account-id=acc123&access-key-id=[redacted]&secret-access-key=[redacted]");
    expect(JSON.parse(request.body.filter)).toEqual({ where: { and: [{ key: "ScriptName", operator: "eq", value: "inferrouter" }] } });
    for (const secret of ["cf-token-secret", "r2-key-id", "r2-secret"]) expect(run.stdout).not.toContain(secret);
  });

  it("takes any destination string", () => {
    const request = buildJobRequest({ accountId: "a", apiToken: "t", scriptName: "w", destination: "https://logs.example.com/ingest?header_Authorization=x" });
    expect(JSON.parse(request.init.body).destination_conf).toBe("https://logs.example.com/ingest?header_Authorization=x");
    expect(request.init.headers.authorization).toBe("Bearer t");
  });

  it("says what is missing", () => {
    expect(() => buildJobRequest({ accountId: "a", apiToken: "t", scriptName: "w" })).toThrow(/--r2-bucket/);
    expect(() => buildJobRequest({ accountId: "a", apiToken: "t", scriptName: "w", r2Bucket: "b" })).toThrow(/R2_ACCESS_KEY_ID/);
    const run = node("scripts/logpush-setup.ts", ["--r2-bucket", "logs"], { CLOUDFLARE_ACCOUNT_ID: "", CLOUDFLARE_API_TOKEN: "" });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN");
  });
});
