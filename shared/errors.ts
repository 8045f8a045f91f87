// Error categories every provider failure is normalized into, and the OpenAI error body.
import * as z from "zod";
// Named, not z.core.toDotPath: a reference to the core namespace keeps every zod locale in the bundle.
import { toDotPath } from "zod/v4/core";

export const ERROR_CATEGORIES = [
  "RateLimit",
  "QuotaExceeded",
  "AuthError",
  "BadRequest",
  "ContextLengthExceeded",
  "ContentFiltered",
  "NotFound",
  "Timeout",
  "ServerError",
  "NetworkError",
  "Unknown",
] as const;
export type ErrorCategory = (typeof ERROR_CATEGORIES)[number];

/** The default `failover_on`: everything except what another provider would refuse too. */
export const DEFAULT_FAILOVER_ON: readonly ErrorCategory[] = ERROR_CATEGORIES.filter(
  (category) => category !== "BadRequest" && category !== "ContentFiltered",
);

/** What provider keys look like (OpenAI, Groq, OpenRouter, Anthropic, xAI, Google): redacted wherever text may hold one. */
export const KEY_PATTERNS: readonly RegExp[] = [/\b(sk|gsk|pk|rk|xai|sk-or-v1|sk-ant)[-_][A-Za-z0-9_-]{8,}/g, /\bAIza[0-9A-Za-z_-]{20,}/g];

export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "insufficient_quota"
  | "server_error"
  | "timeout_error"
  | "api_error";

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** The one error shape every InferRouter answer uses: all four keys always present. */
export function openAIError(
  message: string,
  type: OpenAIErrorType | string,
  code: string | null = null,
  param: string | null = null,
): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

/** A zod error as an OpenAI 400: `param` is the path of the first bad field (`messages[0].role`). */
export function zodToOpenAIError(error: z.ZodError, prefix = "Invalid request"): OpenAIErrorBody {
  const issue = error.issues[0];
  const param = issue ? toDotPath(issue.path) : null;
  const detail = issue ? `${param ? `${param}: ` : ""}${issue.message}` : error.message;
  return openAIError(`${prefix}: ${detail}`, "invalid_request_error", "invalid_value", param || null);
}

/** The category an HTTP status stands for when nothing more specific is known. */
export function statusCategory(status: number): ErrorCategory {
  if (status === 429) return "RateLimit";
  if (status === 401 || status === 403) return "AuthError";
  if (status === 404) return "NotFound";
  if (status === 408 || status === 504 || status === 524) return "Timeout";
  if (status === 413) return "ContextLengthExceeded";
  if (status === 400 || status === 422) return "BadRequest";
  if (status >= 500) return "ServerError";
  return "Unknown";
}
