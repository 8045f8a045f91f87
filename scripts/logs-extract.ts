// npm run logs:extract -- FILES... [--out FILE]: turns Workers Trace Events Logpush files (ndjson,
// gzipped or not, one Worker invocation per line with a `Logs` array) into flat operation-log
// JSONL: one InferRouter event per line, ready for Loki or ELK.
import { createReadStream, createWriteStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { exitWith, parseCommandLine } from "../shared/cli.ts";
import { createGunzip } from "node:zlib";
import { EVENT_NAMES } from "../shared/events.ts";

const OUR_EVENTS: ReadonlySet<string> = new Set(EVENT_NAMES);

interface TraceEvent {
  ScriptName?: string;
  Logs?: Array<{ Level?: string; Message?: unknown[]; TimestampMs?: number }>;
}

/** The InferRouter events inside one Logpush line (an invocation may log several). */
export function eventsOfInvocation(line: string): Array<Record<string, unknown>> {
  let invocation: TraceEvent;
  try {
    invocation = JSON.parse(line) as TraceEvent;
  } catch {
    return [];
  }
  return (invocation.Logs ?? []).flatMap((entry) =>
    (entry.Message ?? []).flatMap((message) => {
      if (typeof message !== "string" || !message.startsWith("{")) return [];
      try {
        const event = JSON.parse(message) as Record<string, unknown>;
        return typeof event.event === "string" && OUR_EVENTS.has(event.event) ? [event] : [];
      } catch {
        return [];
      }
    }),
  );
}

/** Reads a Logpush file (gzip detected by its magic bytes) line by line. */
async function* lines(path: string): AsyncGenerator<string> {
  const head = await new Promise<Buffer>((resolve, reject) => {
    const probe = createReadStream(path, { start: 0, end: 1 });
    const chunks: Buffer[] = [];
    probe.on("data", (chunk) => chunks.push(chunk as Buffer)).on("end", () => resolve(Buffer.concat(chunks))).on("error", reject);
  });
  let input: Readable = createReadStream(path);
  if (head[0] === 0x1f && head[1] === 0x8b) input = input.pipe(createGunzip());
  yield* createInterface({ input, crlfDelay: Infinity });
}

export async function extract(files: string[], out: Writable): Promise<number> {
  let count = 0;
  for (const file of files) {
    for await (const line of lines(file)) {
      for (const event of eventsOfInvocation(line)) {
        out.write(`${JSON.stringify(event)}\n`);
        count++;
      }
    }
  }
  return count;
}

if (import.meta.main) {
  const usage = "usage: npm run logs:extract -- FILE.log.gz [...] [--out events.jsonl]\n  reads Logpush files (gzipped JSONL) and writes the operation log's events, one a line";
  const { values, positionals } = parseCommandLine({ name: "logs:extract", usage, allowPositionals: true, options: { out: { type: "string", short: "o" } } });
  if (!positionals.length) {
    console.error(usage);
    process.exit(2);
  }
  const out = values.out ? createWriteStream(values.out) : process.stdout;
  const count = await extract(positionals, out).catch((error: unknown) => exitWith("logs:extract", error));
  if (values.out) out.end();
  console.error(`logs:extract: ${count} events from ${positionals.length} file(s)`);
}
