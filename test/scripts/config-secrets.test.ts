// Secret names in ROUTER_CONFIG: plain file names only, never the edge's own keys or bindings,
// and a client's key secret never a provider's. A bad one is a config error naming its path.
import { describe, expect, it } from "vitest";
import { parseRouterConfig } from "../../shared/config.ts";

const provider = (extra: Record<string, unknown>) => ({ type: "local_gguf", base_url: "http://127.0.0.1:8081/v1", model: "m", ...extra });
const parse = (providerExtra: Record<string, unknown>, clients?: Record<string, unknown>) =>
  parseRouterConfig({ routes: { default: ["p"] }, providers: { p: provider(providerExtra) }, ...(clients ? { clients } : {}) });
const message = (result: ReturnType<typeof parseRouterConfig>) => (result.ok ? "" : result.message);

describe("config secret names", () => {
  it.each(["PROXY_API_KEYS", "ADMIN_API_KEYS", "QUOTA", "SECRETS_DIR", "LOGS_DIR", "ROUTER_CONFIG"])("refuses the edge's own %s as a provider's secret, naming the path", (name) => {
    for (const key of ["api_key_secret", "access_client_id_secret", "access_client_secret_secret"]) {
      const result = parse({ [key]: name });
      expect(result.ok).toBe(false);
      expect(message(result)).toContain(`providers.p.${key}`);
      expect(message(result)).toContain(`"${name}" is the edge's own`);
    }
  });

  it.each(["../sec/FAKE_KEY", "sub/KEY", ".hidden", "-dash", "KEY NAME", "/abs"])("refuses %s: only plain file names", (name) => {
    const result = parse({ api_key_secret: name });
    expect(result.ok).toBe(false);
    expect(message(result)).toContain("providers.p.api_key_secret");
    expect(message(result)).toContain("not a plain secret name");
    const client = parse({ api_key_secret: "P_KEY" }, { app: { key_secret: name } });
    expect(message(client)).toContain("clients.app.key_secret");
  });

  it("refuses a client key secret that is also a provider's secret, or one of the edge's own", () => {
    const shared = parse({ api_key_secret: "SHARED_KEY" }, { app: { key_secret: "SHARED_KEY" } });
    expect(message(shared)).toContain("clients.app.key_secret");
    expect(message(shared)).toContain("also a provider's secret");
    const admin = parse({ api_key_secret: "P_KEY" }, { app: { key_secret: "ADMIN_API_KEYS" } });
    expect(message(admin)).toContain("clients.app.key_secret");
  });

  it("accepts plain names with dots, dashes and underscores", () => {
    const result = parse({ api_key_secret: "groq.key-2", access_client_id_secret: "CF_ID", access_client_secret_secret: "_cf.secret" }, { app: { key_secret: "APP-KEYS.v2" } });
    expect(message(result)).toBe("");
    expect(result.ok).toBe(true);
  });
});
