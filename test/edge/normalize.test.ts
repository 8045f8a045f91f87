// The error normalizer's pieces on their own: body shapes, rule order, retry-after forms, redaction.
import { describe, expect, it } from "vitest";
import { categorize, readUpstreamError, retryAfterMs, sanitize } from "../../edge/normalize.ts";

describe("readUpstreamError", () => {
  it("reads OpenAI's, Gemini's, bare and plain-text error bodies", () => {
    expect(readUpstreamError(400, '{"error":{"message":"bad","type":"invalid_request_error","code":"x","param":"tools"}}')).toMatchObject({ message: "bad", type: "invalid_request_error", code: "x", param: "tools" });
    expect(readUpstreamError(429, '[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}]')).toMatchObject({ message: "quota", code: "429", type: "RESOURCE_EXHAUSTED" });
    expect(readUpstreamError(500, '{"message":"plain object"}')).toMatchObject({ message: "plain object", code: null });
    expect(readUpstreamError(502, "<html>Bad gateway</html>")).toMatchObject({ message: "<html>Bad gateway</html>", code: null, param: null });
  });
});

describe("categorize", () => {
  const error = (status: number, message: string, code: string | null = null) => ({ status, code, type: null, param: null, message, body: JSON.stringify({ error: { message } }) });

  it("applies provider rules, then global rules, then built-in rules, then the status", () => {
    const e = error(400, "model overloaded");
    expect(categorize(e)).toBe("BadRequest");
    expect(categorize(e, [], [{ message: "overloaded", category: "ServerError" }])).toBe("ServerError");
    expect(categorize(e, [{ message: "overloaded", category: "RateLimit" }], [{ message: "overloaded", category: "ServerError" }])).toBe("RateLimit");
  });

  it("knows the common providers' answers", () => {
    expect(categorize(error(429, "Rate limit exceeded: free-models-per-day"))).toBe("QuotaExceeded");
    expect(categorize(error(429, "Rate limit reached on tokens per day (TPD): Limit 100000"))).toBe("QuotaExceeded");
    expect(categorize(error(429, "Rate limit reached on requests per minute (RPM)"))).toBe("RateLimit");
    expect(categorize(error(400, "This model's maximum context length is 8192 tokens"))).toBe("ContextLengthExceeded");
    expect(categorize(error(400, "whatever", "context_length_exceeded"))).toBe("ContextLengthExceeded");
    expect(categorize(error(400, "flagged by content management policy"))).toBe("ContentFiltered");
    expect(categorize(error(429, "You exceeded your current quota", "insufficient_quota"))).toBe("AuthError");
    expect(categorize(error(402, "Insufficient credits"))).toBe("AuthError");
    expect(categorize(error(404, "no such model"))).toBe("NotFound");
    expect(categorize(error(504, "gateway timeout"))).toBe("Timeout");
    expect(categorize(error(529, "overloaded"))).toBe("ServerError");
    expect(categorize(error(418, "teapot"))).toBe("Unknown");
  });
});

describe("retryAfterMs", () => {
  const now = Date.parse("2026-05-01T10:00:00Z");
  it("reads retry-after-ms, retry-after seconds and retry-after as an HTTP date", () => {
    expect(retryAfterMs(new Headers({ "retry-after-ms": "1500", "retry-after": "9" }), now)).toBe(1500);
    expect(retryAfterMs(new Headers({ "retry-after": "7" }), now)).toBe(7000);
    expect(retryAfterMs(new Headers({ "retry-after": "Fri, 01 May 2026 10:00:30 GMT" }), now)).toBe(30_000);
    expect(retryAfterMs(new Headers({ "retry-after": "Fri, 01 May 2026 09:00:00 GMT" }), now)).toBe(0);
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterMs(new Headers(), now)).toBeUndefined();
  });
});

describe("sanitize", () => {
  it("removes the provider's own secrets, key-shaped strings, bearer tokens, URLs and addresses", () => {
    const out = sanitize("key my-own-secret-value failed; sk-abcdefghijklmnop gsk_abcdefghijklmnopq AIzaSyA1234567890abcdefghij Bearer xyz at https://internal.example/v1 from 10.0.0.7:8080", ["my-own-secret-value"]);
    for (const leaked of ["my-own-secret-value", "sk-abcdefghijklmnop", "gsk_abcdefghijklmnopq", "AIzaSyA1234567890abcdefghij", "Bearer xyz", "internal.example", "10.0.0.7"]) {
      expect(out).not.toContain(leaked);
    }
    expect(out).toContain("failed;");
  });
});
