// Turns an upstream failure (status, headers, body) into an error category through an ordered
// rule list: the provider's own error_rules, then the global ones, then the built-in rules below,
// then the status alone.
import type { ErrorRule } from "../shared/config.ts";
import { KEY_PATTERNS, statusCategory, type ErrorCategory } from "../shared/errors.ts";

export interface UpstreamError {
  status: number;
  code: string | null;
  type: string | null;
  /** The parameter upstream blamed, passed on to the client on errors that do not fail over. */
  param: string | null;
  message: string;
  body: string;
}

/** What the common providers say when they are out, throttled or refusing. */
export const BUILT_IN_RULES: readonly ErrorRule[] = [
  // Daily quotas: OpenRouter `free-models-per-day`, Gemini quota ids `...PerDay...`, Groq "tokens per day (TPD)".
  { status: 429, body: "per.?day|free-models-per-day|\\bTPD\\b|\\bRPD\\b|daily", category: "QuotaExceeded" },
  { code: "context_length_exceeded", category: "ContextLengthExceeded" },
  {
    message: "context length|context window|maximum context|too many tokens|prompt is too long|reduce the length",
    category: "ContextLengthExceeded",
  },
  { code: "content_filter", category: "ContentFiltered" },
  { code: "content_policy_violation", category: "ContentFiltered" },
  { message: "content (management )?policy|content filter|flagged|moderation", category: "ContentFiltered" },
  // Billing: OpenAI `insufficient_quota`, OpenRouter 402 "insufficient credits": the key is dead until paid.
  { code: "insufficient_quota", category: "AuthError" },
  { status: 402, category: "AuthError" },
  { code: "invalid_api_key", category: "AuthError" },
  { code: "model_not_found", category: "NotFound" },
  { code: "rate_limit_exceeded", category: "RateLimit" },
  { type: "rate_limit_error", category: "RateLimit" },
];

const compiled = new Map<string, RegExp>();
function pattern(source: string): RegExp {
  let regex = compiled.get(source);
  if (!regex) compiled.set(source, (regex = new RegExp(source, "i")));
  return regex;
}

function matches(rule: ErrorRule, error: UpstreamError): boolean {
  if (rule.status !== undefined) {
    const statuses = Array.isArray(rule.status) ? rule.status : [rule.status];
    if (!statuses.includes(error.status)) return false;
  }
  if (rule.code !== undefined && rule.code !== error.code) return false;
  if (rule.type !== undefined && rule.type !== error.type) return false;
  if (rule.message !== undefined && !pattern(rule.message).test(error.message)) return false;
  if (rule.body !== undefined && !pattern(rule.body).test(error.body)) return false;
  return true;
}

export function categorize(error: UpstreamError, ...ruleLists: ReadonlyArray<readonly ErrorRule[]>): ErrorCategory {
  for (const rules of [...ruleLists, BUILT_IN_RULES]) {
    const rule = rules.find((candidate) => matches(candidate, error));
    if (rule) return rule.category;
  }
  return statusCategory(error.status);
}

/**
 * Reads an upstream error body in the shapes providers use: OpenAI's `{"error":{...}}`, Gemini's
 * `[{"error":{...}}]`, a bare `{"message":...}`, or plain text.
 */
export function readUpstreamError(status: number, body: string): UpstreamError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { status, code: null, type: null, param: null, message: body.slice(0, 500), body };
  }
  const root = Array.isArray(parsed) ? parsed[0] : parsed;
  const error = (root as { error?: unknown } | null)?.error ?? root;
  const fields = (typeof error === "object" && error !== null ? error : { message: String(error) }) as Record<
    string,
    unknown
  >;
  const text = (value: unknown) => (typeof value === "string" ? value : typeof value === "number" ? String(value) : null);
  return {
    status,
    code: text(fields.code),
    type: text(fields.type) ?? text(fields.status),
    param: text(fields.param),
    message: text(fields.message) ?? (typeof error === "string" ? error : body.slice(0, 500)),
    body,
  };
}

/**
 * Milliseconds to wait from `retry-after-ms`, `retry-after` (seconds or HTTP date), else
 * Anthropic's `anthropic-ratelimit-*-reset` (RFC 3339); undefined if absent.
 */
export function retryAfterMs(headers: Headers, now: number): number | undefined {
  const ms = Number(headers.get("retry-after-ms"));
  if (headers.has("retry-after-ms") && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get("retry-after");
  if (!value) return anthropicResetMs(headers, now);
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const ANTHROPIC_RESET = /^anthropic-ratelimit-(.+)-reset$/;

/**
 * When the limits Anthropic reports spent (`anthropic-ratelimit-<limit>-remaining: 0`) reopen: the
 * latest of their resets, as every spent one must reopen. No spent one named: the latest reset.
 */
function anthropicResetMs(headers: Headers, now: number): number | undefined {
  let spent: number | undefined;
  let any: number | undefined;
  for (const [name, value] of headers) {
    const limit = ANTHROPIC_RESET.exec(name)?.[1];
    if (!limit) continue;
    const at = Date.parse(value);
    if (Number.isNaN(at)) continue;
    any = Math.max(any ?? at, at);
    if (headers.get(`anthropic-ratelimit-${limit}-remaining`) === "0") spent = Math.max(spent ?? at, at);
  }
  const at = spent ?? any;
  return at === undefined ? undefined : Math.max(0, at - now);
}

/** Keys, bearer tokens, URLs and addresses out of an upstream message before a client or log sees it. */
export function sanitize(message: string, secrets: ReadonlyArray<string | undefined> = []): string {
  let out = message;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join("[redacted]");
  for (const pattern of KEY_PATTERNS) out = out.replace(pattern, "[redacted-key]");
  return out
    .replace(/Bearer\s+\S+/gi, "Bearer [redacted]")
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>)]+/gi, "[url]")
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, "[address]")
    .slice(0, 1000);
}

/** The HTTP status an error inside a 200 answer or a stream stands for (its numeric `code`), else 502. */
export function errorStatus(error: unknown): number {
  const code = (error as { code?: unknown }).code;
  const status = typeof code === "number" ? code : Number(code);
  return Number.isInteger(status) && status >= 400 && status < 600 ? status : 502;
}
