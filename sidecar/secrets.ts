// The bearer token lives in `SIDECAR_TOKEN` under the secrets dir (a Docker secret), the same name
// as the edge's secret, so one file serves both; the old `sidecar_token` is still read (with a
// deprecation line) when SIDECAR_TOKEN is not there. It is re-read
// when the file changes, so rotation needs no restart. Polling (fs.watchFile) rather than fs.watch:
// it survives the file being replaced or re-mounted, and a short interval notices within a second.
import { existsSync, readFileSync, unwatchFile, watchFile } from "node:fs";
import { join } from "node:path";

export const TOKEN_FILE_NAME = "SIDECAR_TOKEN";
/** The name before issue 22; read when TOKEN_FILE_NAME is absent. */
export const LEGACY_TOKEN_FILE_NAME = "sidecar_token";

/** The token file in `secretsDir`: SIDECAR_TOKEN, else the legacy sidecar_token when only it exists. */
export function tokenPath(secretsDir: string): { path: string; legacy: boolean } {
  const path = join(secretsDir, TOKEN_FILE_NAME);
  const legacy = join(secretsDir, LEGACY_TOKEN_FILE_NAME);
  return !existsSync(path) && existsSync(legacy) ? { path: legacy, legacy: true } : { path, legacy: false };
}
const POLL_INTERVAL_MS = 500;

export class TokenFile {
  readonly path: string;
  /** Read from the legacy name (sidecar_token): the caller prints the deprecation. */
  readonly legacy: boolean;
  private token: string | null;
  private readonly listener = () => {
    this.token = TokenFile.read(this.path);
  };

  constructor(secretsDir: string) {
    ({ path: this.path, legacy: this.legacy } = tokenPath(secretsDir));
    this.token = TokenFile.read(this.path);
    watchFile(this.path, { interval: POLL_INTERVAL_MS, persistent: false }, this.listener);
  }

  /** The current token, or null while the file is missing or empty (then every request is refused). */
  current(): string | null {
    return this.token;
  }

  close(): void {
    unwatchFile(this.path, this.listener);
  }

  private static read(path: string): string | null {
    try {
      return readFileSync(path, "utf8").trim() || null;
    } catch {
      return null;
    }
  }
}
