// The operation log as daily files: each InferRouter event line goes to
// `<dir>/operations-YYYY-MM-DD.jsonl`, the UTC day of its own `ts`. Lines are appended with a
// synchronous write as they arrive, so nothing waits in a buffer when the process stops.
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";

/** An InferRouter operation-log line: the edge writes every event as a JSON object starting with `ts`. */
export function isOperationLine(text: unknown): text is string {
  return typeof text === "string" && text.startsWith('{"ts"');
}

export function dailyFileName(date: string): string {
  return `operations-${date}.jsonl`;
}

export class DailyLog {
  private readonly files = new Map<string, number>();
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  /** Appends one event line to its day's file; a line without a readable `ts` goes to today's. */
  write(line: string): void {
    let day = new Date().toISOString().slice(0, 10);
    try {
      const ts = (JSON.parse(line) as { ts?: unknown }).ts;
      if (typeof ts === "string" && /^\d{4}-\d{2}-\d{2}T/.test(ts)) day = ts.slice(0, 10);
    } catch {
      // not JSON after all: still kept, under today's date
    }
    let fd = this.files.get(day);
    if (fd === undefined) {
      // A new day: the older days' files will not be written again.
      this.close();
      fd = openSync(join(this.dir, dailyFileName(day)), "a");
      this.files.set(day, fd);
    }
    writeSync(fd, `${line}\n`);
  }

  close(): void {
    for (const fd of this.files.values()) closeSync(fd);
    this.files.clear();
  }
}
