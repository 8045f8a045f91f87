// npm run logs:tail on recorded `wrangler tail --format json` output: a stand-in wrangler plays
// one recording per connection and exits, so the reconnect is exercised too.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { eventReader, operationLines, type TailEvent } from "../../scripts/logs-tail.ts";
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
