// One way every command line of the project answers (npm start, serve, check-config, the sidecar,
// logs:*, logpush:setup, bench*): node:util parseArgs, `--help` prints the usage (exit 0), an
// unknown or misspelt flag prints the usage, the flag and the closest valid one (exit 2), and an
// expected failure is one line on stderr (exit 1), never a stack trace.
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { closest } from "./closest.ts";

export interface CommandLine<O extends ParseArgsOptionsConfig> {
  /** How the user runs it, for messages: "npm start", "inferrouter-sidecar". */
  name: string;
  usage: string;
  options: O;
  allowPositionals?: boolean;
  args?: string[];
  /** String flags that must hold a whole number in [min, max] (ports, milliseconds, counts). */
  integers?: Partial<Record<keyof O & string, { min: number; max: number }>>;
}

/** A failure the user can fix: printed as one line, exit 1 (or `code`). */
export class CliError extends Error {
  readonly code: number;
  constructor(message: string, code = 1) {
    super(message);
    this.code = code;
  }
}

/** The parse error's message with a "did you mean" for an unknown flag. */
function explain(error: Error & { code?: string }, options: ParseArgsOptionsConfig): string {
  const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(error.message)?.[1];
  if (error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && unknown) {
    const flag = unknown.replace(/=.*$/, "");
    const suggestion = closest(flag.replace(/^-+/, ""), Object.keys(options));
    return `unknown option ${flag}${suggestion ? ` (did you mean --${suggestion}?)` : ""}`;
  }
  return error.message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, "");
}

/** The first integer flag whose value is not a whole number in its range, as one phrase. */
function integerProblem(values: Record<string, unknown>, integers: Record<string, { min: number; max: number } | undefined>): string | undefined {
  for (const [flag, range] of Object.entries(integers)) {
    const value = values[flag];
    if (typeof value !== "string" || !range) continue;
    const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!(number >= range.min && number <= range.max)) return `--${flag} must be a whole number from ${range.min} to ${range.max}, not '${value}'`;
  }
  return undefined;
}

/** Parses the command line, or answers --help / a bad flag and exits. */
export function parseCommandLine<O extends ParseArgsOptionsConfig>(command: CommandLine<O>) {
  const config = {
    args: command.args,
    options: { ...command.options, help: { type: "boolean", short: "h" } } as O & { help: { type: "boolean"; short: "h" } },
    allowPositionals: true,
    strict: true,
  } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs({ ...config, allowPositionals: command.allowPositionals ?? false });
  } catch (error) {
    process.stderr.write(`${command.usage}\n\n${command.name}: ${explain(error as Error, config.options)}\n`);
    process.exit(2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${command.usage}\n`);
    process.exit(0);
  }
  const badNumber = integerProblem(parsed.values as Record<string, unknown>, command.integers ?? {});
  if (badNumber) {
    process.stderr.write(`${command.name}: ${badNumber}\n`);
    process.exit(2);
  }
  return parsed;
}

/** Ends the command with one line for an expected failure (a CliError, a missing file), a stack trace for anything else. */
/** The file-system failures a user meets (a wrong path, a folder, no permission), in one phrase each. */
const FS_REASONS: Record<string, string> = {
  ENOENT: "no such file",
  ENOTDIR: "a part of the path is not a folder",
  EISDIR: "a folder, not a file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the disk",
};

/** A file-system failure's one phrase ("no such file", "a folder, not a file"), or undefined for anything else. */
export function fileProblem(error: unknown): string | undefined {
  return FS_REASONS[(error as NodeJS.ErrnoException)?.code ?? ""];
}

export function exitWith(name: string, error: unknown): never {
  const e = error as NodeJS.ErrnoException;
  if (error instanceof CliError) {
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(error.code);
  }
  const fsReason = e?.path ? fileProblem(e) : undefined;
  if (fsReason) {
    process.stderr.write(`${name}: ${fsReason}: ${e.path}\n`);
    process.exit(1);
  }
  const cause = (error as { cause?: NodeJS.ErrnoException & { hostname?: string } })?.cause;
  if (error instanceof TypeError && cause?.code && ["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT"].includes(cause.code)) {
    process.stderr.write(`${name}: no network: ${cause.hostname ?? cause.message} (${cause.code}); check the connection and try again\n`);
    process.exit(1);
  }
  if (e?.code === "EADDRINUSE") {
    process.stderr.write(`${name}: ${e.message}: the port is taken; pick another with --port\n`);
    process.exit(1);
  }
  throw error;
}
