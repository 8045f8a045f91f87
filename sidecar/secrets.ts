// The bearer token lives in `sidecar_token` under the secrets dir (a Docker secret) and is re-read
// when the file changes, so rotation needs no restart. Polling (fs.watchFile) rather than fs.watch:
// it survives the file being replaced or re-mounted, and a short interval notices within a second.
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { join } from "node:path";

export const TOKEN_FILE_NAME = "sidecar_token";
const POLL_INTERVAL_MS = 500;

export class TokenFile {
  readonly path: string;
  private token: string | null;
  private readonly listener = () => {
    this.token = TokenFile.read(this.path);
  };

  constructor(secretsDir: string) {
    this.path = join(secretsDir, TOKEN_FILE_NAME);
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
