// Container healthcheck: GET /health with the sidecar's own token. Exit 0 when it answers 200.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { tokenPath } from "./secrets.ts";

const url = process.env.SIDECAR_HEALTH_URL ?? "http://127.0.0.1:8081/health";
const secretsDir = process.env.SIDECAR_SECRETS_DIR ?? "/run/secrets";
const token = (await readFile(tokenPath(secretsDir).path, "utf8").catch(() => "")).trim();
try {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(4000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
