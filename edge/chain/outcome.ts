// How a chain walk ends, and the one place that writes a request's terminal log line: an answer
// (JSON now, a stream when it ends), the client leaving, a provider error that does not fail over,
// or every provider spent (429 when all were limited, else 503), the deadline (504) or the
// attempt cap. Everything here turns a WalkEnd into the client's response.
import { openAIError, type ErrorCategory } from "../../shared/errors.ts";
import type { Usage } from "../../shared/openai.ts";
import type { StreamEnd } from "../stream/types.ts";
import { addUsage } from "../usage/sum.ts";
import { answerCost, type CostPart } from "../usage/cost.ts";
import { estimateTokens } from "../usage/estimate.ts";
import { learnFromStreamEnd, learnTokens } from "./learn.ts";
import { unservable } from "./plan.ts";
import type { Admitted, ChainRequest, Outcome, WalkEnd, WalkState } from "./types.ts";

export type { WalkEnd } from "./types.ts";

type TerminalName = "infer_completed" | "infer_failed" | "infer_cancelled";
type TerminalFields = Parameters<ChainRequest["log"]["end"]>[1];

/** The request's one terminal line. */
function writeTerminal(req: ChainRequest, name: TerminalName, fields: TerminalFields): void {
  req.quota.finish(); // a client reservation no answer settled goes back
  req.log.end(name, { ...fields, ...req.quota.trackerFields() });
}

/** One provider's part of the answer's cost: its price and usage, the router's estimate without one. */
function costPart(req: ChainRequest, providerId: string, usage: Usage | undefined, countedText?: string): CostPart {
  const provider = req.config.providers[providerId];
  return { price: provider?.price, usage, estimate: () => estimateTokens(req.body, provider, countedText) };
}

function usageFields(usage: Usage | undefined) {
  return usage ? { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.total_tokens } : {};
}

export function conclude(req: ChainRequest, walk: WalkState, end: WalkEnd): Response {
  switch (end.kind) {
    case "answered":
      return answered(req, end);
    case "cancelled":
      writeTerminal(req, "infer_cancelled", { provider: end.providerId, attempts: walk.attempts });
      return Response.json(openAIError("Client closed the request", "invalid_request_error", "client_closed"), { status: 499 });
    case "provider_error":
      return providerError(req, end);
    case "deadline":
      return failure(req, walk, 504, "timeout_error", "request_timeout", "Timeout",
        `No answer within request_timeout_ms (${req.config.request_timeout_ms} ms) for model "${req.route}": ${summary(walk.outcomes)}`);
    case "attempt_cap":
      return failure(req, walk, 503, "server_error", "max_attempts_reached", lastCategory(walk.outcomes),
        `Stopped after max_attempts (${req.config.max_attempts}) upstream calls for model "${req.route}": ${summary(walk.outcomes)}`);
    case "spent":
      return allSpent(req, walk);
    case "client_limited":
      return clientLimited(req, walk, end);
  }
}

function answered(req: ChainRequest, end: Extract<WalkEnd, { kind: "answered" }>): Response {
  const { admitted, attempts, result } = end;
  const headers = result.response.headers;
  headers.set("x-inferrouter-provider", admitted.providerId);
  headers.set("x-inferrouter-attempts", String(attempts));
  // A stream's terminal line is written when it ends (streamEndHandler).
  if (!req.body.stream) {
    writeTerminal(req, "infer_completed", {
      provider: admitted.providerId,
      model: admitted.provider.model,
      attempts,
      status: 200,
      stream: false,
      finish_reason: result.finishReason ?? null,
      ...usageFields(result.usage),
      ...answerCost([costPart(req, admitted.providerId, result.usage)]),
    });
  }
  return result.response;
}

/** The request's terminal line once a stream it answered ends, and what the stream taught. */
export function streamEndHandler(req: ChainRequest, admitted: Admitted, attempts: () => number, ttftMs: () => number | undefined) {
  return (end: StreamEnd) => {
    learnTokens(req.quota, admitted, end.tap.usage);
    // A stream that broke after it began is an outage like any other for the circuit.
    learnFromStreamEnd(req.quota, admitted, end);
    // A continued stream ends at another provider: name it, count every attempt and both usages.
    const { continued } = end;
    // Each provider's tokens at its own price (a continuation's segments at the last one's).
    const parts = [costPart(req, admitted.providerId, end.tap.usage, end.tap.text)];
    if (continued) parts.push(costPart(req, continued.provider, continued.usage));
    const fields = {
      provider: continued?.provider ?? admitted.providerId,
      model: continued?.model ?? admitted.provider.model,
      attempts: attempts(), // a continuation's attempts count too
      stream: true,
      ...usageFields(addUsage(end.tap.usage, continued?.usage)),
      ...answerCost(parts),
      ...(continued && { continued: true, continued_from: { provider: admitted.providerId, model: admitted.provider.model, cost_usd: answerCost(parts.slice(0, 1)).cost_usd } }),
      ...(end.tap.usageEstimated && { usage_estimated: true }),
      ...(continued?.restarted && { restarted: true, matched_chars: continued.restarted.matchedChars }),
      dropped_events: end.tap.droppedEvents + (continued?.droppedEvents ?? 0),
    };
    if (end.outcome === "completed") {
      const finishReason = continued ? continued.finishReason : end.tap.finishReason;
      writeTerminal(req, "infer_completed", { ...fields, status: 200, finish_reason: finishReason ?? null, ttft_ms: ttftMs() });
    } else if (end.outcome === "cancelled") {
      writeTerminal(req, "infer_cancelled", fields);
    } else {
      writeTerminal(req, "infer_failed", { ...fields, status: 200, category: end.category, message: end.message });
    }
    // The client has the whole stream by now; this is the request's last line.
    req.log.flush();
  };
}

const CATEGORY_TYPES: Partial<Record<ErrorCategory, string>> = {
  BadRequest: "invalid_request_error",
  ContextLengthExceeded: "invalid_request_error",
  ContentFiltered: "invalid_request_error",
  AuthError: "authentication_error",
  NotFound: "not_found_error",
  RateLimit: "rate_limit_error",
  QuotaExceeded: "rate_limit_error",
  Timeout: "timeout_error",
};

function categoryCode(category: ErrorCategory): string | null {
  if (category === "ContextLengthExceeded") return "context_length_exceeded";
  if (category === "ContentFiltered") return "content_filter";
  return null;
}

/** A failure that does not fail over: the provider's status and its (sanitized) error, as OpenAI shapes it. */
function providerError(req: ChainRequest, end: Extract<WalkEnd, { kind: "provider_error" }>): Response {
  const { admitted, failed, attempts } = end;
  const status = failed.status >= 400 ? failed.status : failed.category === "Timeout" ? 504 : 502;
  writeTerminal(req, "infer_failed", {
    provider: admitted.providerId,
    model: admitted.provider.model,
    category: failed.category,
    status: failed.status,
    attempts,
    message: failed.message,
  });
  const type = CATEGORY_TYPES[failed.category] ?? failed.type ?? "server_error";
  const body = openAIError(`${admitted.providerId}: ${failed.message}`, type, failed.code ?? categoryCode(failed.category), failed.param);
  const headers = new Headers({ "x-inferrouter-attempts": String(attempts) });
  if (failed.retryAfterMs !== undefined) headers.set("retry-after", String(Math.ceil(failed.retryAfterMs / 1000)));
  return Response.json(body, { status, headers });
}

function summary(outcomes: Outcome[]): string {
  const parts = outcomes.map((o) =>
    o.category === "skipped" ? `${o.provider}: skipped (${o.detail})` : `${o.provider}: ${o.category} (${o.status || "no response"})`,
  );
  return parts.join("; ") || "no provider was called";
}

/** Every provider failed or was skipped: 429 when all were limited, else 503, with a summary. */
function allSpent(req: ChainRequest, walk: WalkState): Response {
  const { outcomes } = walk;
  // No provider could take the request (capability, context window): the client must change it.
  const cannot = unservable(req, walk);
  if (cannot) {
    return failure(req, walk, 400, "invalid_request_error", cannot.code, cannot.context ? "ContextLengthExceeded" : "BadRequest", cannot.message, cannot.param);
  }
  const limited = outcomes.length > 0 && outcomes.every((outcome) => outcome.limited);
  const message = `All providers for model "${req.route}" failed: ${outcomes.length ? summary(outcomes) : "the route has no providers"}`;
  if (limited) return failure(req, walk, 429, "rate_limit_error", "all_providers_rate_limited", "RateLimit", message);
  return failure(req, walk, 503, "server_error", "all_providers_failed", lastCategory(outcomes), message);
}

/** The walk's own error answer, with a retry-after at the earliest known reopening (never for a 504). */
function failure(
  req: ChainRequest,
  walk: WalkState,
  status: number,
  type: string,
  code: string,
  category: ErrorCategory,
  message: string,
  param: string | null = null,
  reopenings = walk.outcomes.flatMap((o) => (o.retryAt === undefined ? [] : [o.retryAt])),
  logged: TerminalFields = {},
): Response {
  writeTerminal(req, "infer_failed", { status, category, attempts: walk.attempts, message, ...logged });
  const headers = new Headers({ "x-inferrouter-attempts": String(walk.attempts) });
  if (status !== 504 && reopenings.length) {
    headers.set("retry-after", String(Math.max(1, Math.ceil((Math.min(...reopenings) - Date.now()) / 1000))));
  }
  return Response.json(openAIError(message, type, code, param), { status, headers });
}

const CLIENT_LIMITS: Record<string, string> = { daily: "requests_per_day", rpm: "requests_per_minute", tokens: "tokens_per_day / tokens_per_minute", budget: "budget_usd_per_day / budget_usd_per_month" };

/** The client is over its own limit or budget: 429 before any provider is called or counted (503 when its tracker failed and on_tracker_error is deny). */
function clientLimited(req: ChainRequest, walk: WalkState, end: Extract<WalkEnd, { kind: "client_limited" }>): Response {
  if (end.reason === "quota_unavailable") {
    const message = `The quota tracker of client "${req.log.client}" could not answer and on_tracker_error is "deny"`;
    return failure(req, walk, 503, "server_error", "quota_unavailable", "Unknown", message, null, [end.retryAt]);
  }
  const limit = CLIENT_LIMITS[end.reason] ?? end.reason;
  const reopens = new Date(end.retryAt).toISOString();
  if (end.reason === "budget") {
    const message = `Client "${req.log.client}" has spent its ${limit}; it reopens at ${reopens}`;
    return failure(req, walk, 429, "rate_limit_error", "budget_exceeded", "QuotaExceeded", message, null, [end.retryAt], { reason: "budget_exceeded" });
  }
  const message = `Client "${req.log.client}" is over its ${limit} limit; it reopens at ${reopens}`;
  // The reason (the error's code) tells the history a client's own limit from a provider's.
  return failure(req, walk, 429, "rate_limit_error", "client_rate_limited", "RateLimit", message, null, [end.retryAt], { reason: "client_rate_limited" });
}

function lastCategory(outcomes: Outcome[]): ErrorCategory {
  const called = outcomes.filter((o): o is Outcome & { category: ErrorCategory } => o.category !== "skipped");
  return called.at(-1)?.category ?? "Unknown";
}
