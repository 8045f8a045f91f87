// GET /v1/logs on Cloudflare: no log directory is bound, so the answer says where the log goes.
// (Self-hosted, with the files, it is tested end to end in test/e2e/serve.test.ts.)
import { describe, expect, it } from "vitest";
import { call, chainConfig, provider } from "./harness.ts";

const config = chainConfig({ a: provider("http://127.0.0.1:9/v1") });
const logs = (query: string, key = "sk-test-admin") =>
  call({ config, method: "GET", path: `/v1/logs${query}`, headers: { authorization: `Bearer ${key}` } });

describe("GET /v1/logs on Cloudflare", () => {
  it("answers 404 naming Workers Logs, Logpush and logs:tail", async () => {
    const res = await logs("?date=2026-12-01");
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { message: string; type: string; param: null; code: string } };
    expect(body).toEqual({ error: { message: expect.stringContaining("Workers Logs"), type: "invalid_request_error", param: null, code: "logs_not_on_disk" } });
    expect(body.error.message).toContain("Logpush");
    expect(body.error.message).toContain("npm run logs:tail");
  });

  it("serves today (UTC) without a date", async () => {
    const res = await logs("");
    expect(res.status).toBe(404); // no directory on Cloudflare: the date passed, the answer is the logs_not_on_disk one
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("logs_not_on_disk");
  });

  it("checks the date first (400) and needs an admin key (403 for a client key)", async () => {
    for (const query of ["?date=", "?date=yesterday", "?date=2026-13-01", "?date=2026-12-01T00:00:00Z"]) {
      const res = await logs(query);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { param: string; code: string } }).error).toMatchObject({ param: "date", code: "invalid_date" });
    }
    expect((await logs("?date=2026-12-01", "sk-test-client-1")).status).toBe(403);
    expect((await logs("?date=2026-12-01", "sk-wrong")).status).toBe(401);
  });
});
