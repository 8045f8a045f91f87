// npm run logs:tail on recorded `wrangler tail --format json` output: a stand-in wrangler plays
// one recording per connection and exits, so the reconnect is exercised too.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { eventReader, fatalMessage, operationLines, type TailEvent } from "../../scripts/logs-tail.ts";
import { startProcess } from "../../scripts/processes.ts";

const root = new URL("../../", import.meta.url).pathname;
const fixtures = join(root, "test/scripts/fixtures");
const recorded = readFileSync(join(fixtures, "wrangler-tail-1.json"), "utf8") + readFileSync(join(fixtures, "wrangler-tail-2.json"), "utf8");
const ids = (text: string) => text.trim().split("\n").map((line) => {
  const event = JSON.parse(line) as { request_id: string; event: string };
  return `${event.request_id.slice(0, 2)}:${event.event}`;
});

describe("npm run logs:tail", () => {
  it("writes the InferRouter lines of each tail event to daily files, reconnects when tail exits, and stops on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "logs-tail-"));
    const runs = join(dir, "runs.txt");
    const logDir = join(dir, "logs");
    const tail = await startProcess(process.execPath, [join(root, "scripts/logs-tail.ts"), "inferrouter", "--status", "error", "--log-dir", logDir], {
      ready: /writing (\S+)/,
      timeoutMs: 10_000,
      cwd: root,
      env: { INFERROUTER_WRANGLER_JS: join(fixtures, "fake-wrangler.ts"), FAKE_WRANGLER_RUNS: runs },
    });
    try {
      // The second recording is played after the first reconnect.
      await vi.waitFor(() => expect(readFileSync(join(logDir, "operations-2026-12-01.jsonl"), "utf8")).toContain("infer_cancelled"), { timeout: 10_000, interval: 100 });
    } finally {
      expect(await tail.stop()).toBe(0);
    }
    expect(readdirSync(logDir).sort()).toEqual(["operations-2026-11-30.jsonl", "operations-2026-12-01.jsonl"]);
    const before = readFileSync(join(logDir, "operations-2026-11-30.jsonl"), "utf8");
    const after = readFileSync(join(logDir, "operations-2026-12-01.jsonl"), "utf8");
    // Split by each event's own UTC date, across the two connections; other console lines left out.
    expect(ids(before)).toEqual(["a1:infer_started", "a1:infer_fallback"]);
    expect(ids(after)).toEqual(["a1:infer_completed", "b2:infer_started", "b2:infer_failed", "c3:infer_started", "c3:infer_cancelled"]);
    // Each line exactly as the Worker logged it.
    for (const line of [...before.trim().split("\n"), ...after.trim().split("\n")]) expect(recorded).toContain(JSON.stringify(line));
    expect(tail.output()).toContain(after.trim().split("\n")[0]);

    const calls = readFileSync(runs, "utf8").trim().split("\n").map((line) => JSON.parse(line) as string[]);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls[0]).toEqual(["tail", "inferrouter", "--status", "error", "--format", "json"]);
    expect(tail.output()).toContain("wrangler tail exited (0); reconnecting in 1 s");
    expect(tail.output()).toContain("under heavy load Cloudflare samples the events");
    expect(tail.output()).toContain("tail says: Tail is currently in sampling mode");
  });

  /** logs:tail run to its end against the fake wrangler that plays no recording. */
  const runFailing = (env: Record<string, string>, args: string[] = ["inferrouter"]) => {
    const dir = mkdtempSync(join(tmpdir(), "logs-tail-"));
    const runs = join(dir, "runs.txt");
    const result = spawnSync(process.execPath, [join(root, "scripts/logs-tail.ts"), ...args, "--log-dir", join(dir, "logs")], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, INFERROUTER_WRANGLER_JS: join(fixtures, "fake-wrangler.ts"), FAKE_WRANGLER_RUNS: runs, FAKE_WRANGLER_PLAY: "0", ...env },
    });
    return { ...result, runs: readFileSync(runs, "utf8").trim().split("\n").length };
  };

  it("stops at once (exit 1, saying why) when wrangler says there is no account or an argument is wrong", () => {
    const noAccount = runFailing({ FAKE_WRANGLER_STDERR: "In a non-interactive environment, it's necessary to set a CLOUDFLARE_API_TOKEN environment variable for wrangler to work." });
    expect(noAccount.status).toBe(1);
    expect(noAccount.runs).toBe(1);
    expect(noAccount.stderr).toContain("logs:tail: wrangler tail cannot run: In a non-interactive environment, it's necessary to set a CLOUDFLARE_API_TOKEN");
    expect(noAccount.stderr).not.toContain("reconnecting in");
    const badArgument = runFailing({ FAKE_WRANGLER_STDERR: 'Invalid values: Argument: format, Given: "xml", Choices: "json", "pretty"' }, ["inferrouter", "--format", "xml"]);
    expect(badArgument.status).toBe(1);
    expect(badArgument.runs).toBe(1);
    expect(badArgument.stderr).toContain('wrangler tail cannot run: Invalid values: Argument: format, Given: "xml"');
  });

  it("refuses a flag wrangler tail does not have before running wrangler (exit 2, with the closest flag)", () => {
    const dir = mkdtempSync(join(tmpdir(), "logs-tail-"));
    const runs = join(dir, "runs.txt");
    const typo = spawnSync(process.execPath, [join(root, "scripts/logs-tail.ts"), "inferrouter", "--stauts", "error"], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, INFERROUTER_WRANGLER_JS: join(fixtures, "fake-wrangler.ts"), FAKE_WRANGLER_RUNS: runs },
    });
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain("unknown option --stauts (did you mean --status?)");
    expect(existsSync(runs)).toBe(false);
  });

  it("stops with exit 0 when wrangler exits 0 without tailing (e.g. its --version)", () => {
    const help = runFailing({ FAKE_WRANGLER_CODE: "0" }, ["--version"]);
    expect(help.status).toBe(0);
    expect(help.runs).toBe(1);
    expect(help.stderr).toContain("wrangler tail exited (0) without tailing; not reconnecting");
  });

  it("gives up (exit 1) after 5 connections in a row that end without an event", () => {
    const down = runFailing({ FAKE_WRANGLER_STDERR: "Unable to resolve Cloudflare's API hostname (api.cloudflare.com or dash.cloudflare.com)." });
    expect(down.status).toBe(1);
    expect(down.runs).toBe(5);
    expect(down.stderr).toContain("reconnecting in 8 s");
    expect(down.stderr).toContain("wrangler tail ended 5 times in a row without delivering an event (last exit 1); giving up");
  }, 60_000);

  it("recognises wrangler's errors that a reconnect cannot fix, and only those", () => {
    expect(fatalMessage("\x1b[31m✘ \x1b[41;31m[\x1b[41;97mERROR\x1b[41;31m]\x1b[0m \x1b[1mAuthentication error [code: 10000]\x1b[0m")).toBe("Authentication error [code: 10000]");
    expect(fatalMessage("✘ [ERROR] This Worker does not exist on your account. [code: 10007]")).toContain("does not exist");
    expect(fatalMessage("✘ [ERROR] Unable to resolve Cloudflare's API hostname")).toBeUndefined();
    expect(fatalMessage("Connected to inferrouter, waiting for logs...")).toBeUndefined();
  });

  it("reads indented and one-line events and passes other output on", () => {
    const events: TailEvent[] = [];
    const other: string[] = [];
    const read = eventReader((event) => events.push(event), (line) => other.push(line));
    const event = { logs: [{ message: ['{"ts":"2026-12-01T00:00:00.000Z","event":"infer_started"}', "plain text", 42] }], event: null };
    for (const line of ["▲ [WARNING] something", ...JSON.stringify(event, null, 4).split("\n"), JSON.stringify(event)]) read(line);
    expect(events).toEqual([event, event]);
    expect(other).toEqual(["▲ [WARNING] something"]);
    expect(operationLines(events[0]!)).toEqual(['{"ts":"2026-12-01T00:00:00.000Z","event":"infer_started"}']);
  });
});
