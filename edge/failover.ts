// The chain walk: for each provider of the route, in order, skip it if it cannot be called, call
// it, and either answer the client or move on. Builds the final error when every provider is spent.
import type { Endpoint, RouterConfig } from "../shared/config.ts";
import type { EmbeddingRequest } from "../shared/embeddings.ts";
import { openAIError, type ErrorCategory } from "../shared/errors.ts";
import type { ChatCompletionRequest, Usage } from "../shared/openai.ts";
import { attempt, type AttemptFailure } from "./attempt.ts";
import type { Env } from "./env.ts";
import type { InferLog } from "./oplog.ts";
import { buildUpstreamRequest } from "./providers.ts";
import { cooldownForFailure, cooldownFromHeaders } from "./quota/cooldown.ts";
import type { QuotaClient } from "./quota/client.ts";
import type { StreamEnd } from "./stream.ts";

export interface ChainRequest {
  config: RouterConfig;
  env: Env;
  route: string;
  chain: readonly string[];
  body: ChatCompletionRequest | EmbeddingRequest;
  /** What to call upstream: chat completions (default) or embeddings, which answer `data`, never a stream. */
  endpoint?: Endpoint;
  log: InferLog;
  clientSignal: AbortSignal;
  quota: QuotaClient;
}

/** What happened at one provider, for the final error's summary. */
interface Outcome {
  provider: string;
  category: ErrorCategory | "skipped";
  status: number;
  detail: string;
  /** Epoch ms when this provider can be tried again, when known. */
  retryAt?: number;
  /** Counts as rate- or quota-limited for the all-spent status. */
  limited: boolean;
}

const LIMIT_CATEGORIES: ReadonlySet<ErrorCategory> = new Set(["RateLimit", "QuotaExceeded"]);

function usageFields(usage: Usage | undefined) {
  return usage ? { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.total_tokens } : {};
}

/** The request's terminal line once a stream it answered ends, and the tokens it used. */
function onStreamEnd(req: ChainRequest, providerId: string, attempts: number, ttftMs: () => number | undefined) {
  const { log, quota } = req;
  const provider = req.config.providers[providerId]!;
  return (end: StreamEnd) => {
    quota.recordTokens(providerId, provider, end.tap.usage?.total_tokens);
    const fields = { provider: providerId, model: provider.model, attempts, stream: true, ...usageFields(end.tap.usage) };
    if (end.outcome === "completed") {
      log.end("infer_completed", { ...fields, status: 200, finish_reason: end.tap.finishReason ?? null, ttft_ms: ttftMs() });
    } else if (end.outcome === "cancelled") {
      log.end("infer_cancelled", fields);
    } else {
      log.end("infer_failed", { ...fields, status: 200, category: end.category, message: end.message });
    }
    // The client has the whole stream by now; this is the request's last line.
    log.flush();
  };
}

export async function walkChain(req: ChainRequest): Promise<Response> {
  const { config, log, body, quota } = req;
  const outcomes: Outcome[] = [];
  let attempts = 0;

  for (const providerId of req.chain) {
    const provider = config.providers[providerId]!;
    const built = await buildUpstreamRequest(provider, body, req.env, log.requestId, req.endpoint);
    if (!built.ok) {
      log.skipped({ provider: providerId, model: provider.model, reason: "missing_key", message: built.message });
      outcomes.push({ provider: providerId, category: "skipped", status: 0, detail: "missing key", limited: false });
      continue;
    }
    const admission = await quota.admit(providerId, provider);
    if (!admission.admitted) {
      const retry_at = new Date(admission.retryAt).toISOString();
      log.skipped({ provider: providerId, model: provider.model, reason: admission.reason, retry_at });
      outcomes.push({ provider: providerId, category: "skipped", status: 0, detail: `${admission.reason} limit`, retryAt: admission.retryAt, limited: true });
      continue;
    }
    if (admission.trackerError) log.quotaUnavailable({ provider: providerId, message: admission.trackerError });

    attempts++;
    const attemptStart = Date.now();
    let ttftMs: number | undefined; // set once the stream starts, read when it ends
    const result = await attempt({
      provider,
      config,
      upstream: built.request,
      stream: body.stream === true,
      endpoint: req.endpoint ?? "chat",
      clientWantsUsage: body.stream_options?.include_usage === true,
      clientSignal: req.clientSignal,
      startedAt: log.startedAt,
      onStreamEnd: onStreamEnd(req, providerId, attempts, () => ttftMs),
    });
    if (result.ok) {
      ttftMs = result.ttftMs;
      const exhausted = cooldownFromHeaders(result.upstreamHeaders, Date.now());
      if (exhausted) quota.coolDown(providerId, provider, exhausted);
      const headers = result.response.headers;
      headers.set("x-inferrouter-provider", providerId);
      headers.set("x-inferrouter-attempts", String(attempts));
      if (!body.stream) {
        quota.recordTokens(providerId, provider, result.usage?.total_tokens);
        log.end("infer_completed", {
          provider: providerId,
          model: provider.model,
          attempts,
          status: 200,
          stream: false,
          finish_reason: result.finishReason ?? null,
          ...usageFields(result.usage),
        });
      }
      return result.response;
    }
    if ("cancelled" in result) {
      log.end("infer_cancelled", { provider: providerId, model: provider.model, attempts });
      return Response.json(openAIError("Client closed the request", "invalid_request_error", "client_closed"), {
        status: 499,
      });
    }

    const failed: AttemptFailure = result;
    const now = Date.now();
    const cooldown = cooldownForFailure(failed.category, failed.retryAfterMs, failed.headers, provider, now);
    if (cooldown) quota.coolDown(providerId, provider, cooldown);
    // A reopening is known when upstream said when, or when a daily quota resets; the default
    // rate-limit cool-down is a guess, so it does not become the client's retry-after.
    const retryAt =
      failed.retryAfterMs !== undefined ? now + failed.retryAfterMs : failed.category === "QuotaExceeded" ? cooldown?.until : undefined;
    const outcome: Outcome = {
      provider: providerId,
      category: failed.category,
      status: failed.status,
      detail: failed.message,
      limited: LIMIT_CATEGORIES.has(failed.category),
      ...(retryAt !== undefined && { retryAt }),
    };
    outcomes.push(outcome);
    const fields = {
      provider: providerId,
      model: provider.model,
      category: failed.category,
      status: failed.status,
      latency_ms: Date.now() - attemptStart,
      attempts,
      message: failed.message,
    };
    if (!config.failover_on.includes(failed.category)) {
      log.end("infer_failed", { ...fields, latency_ms: Date.now() - log.startedAt });
      return providerError(providerId, failed);
    }
    log.fallback(fields);
  }

  return allSpent(req, outcomes, attempts);
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

/** A failure that does not fail over: the provider's status and its (sanitized) error, as OpenAI shapes it. */
function providerError(providerId: string, failed: AttemptFailure): Response {
  const status = failed.status >= 400 ? failed.status : failed.category === "Timeout" ? 504 : 502;
  const type = CATEGORY_TYPES[failed.category] ?? failed.type ?? "server_error";
  const body = openAIError(`${providerId}: ${failed.message}`, type, failed.code ?? categoryCode(failed.category), failed.param);
  const headers = new Headers();
  if (failed.retryAfterMs !== undefined) headers.set("retry-after", String(Math.ceil(failed.retryAfterMs / 1000)));
  return Response.json(body, { status, headers });
}

function categoryCode(category: ErrorCategory): string | null {
  if (category === "ContextLengthExceeded") return "context_length_exceeded";
  if (category === "ContentFiltered") return "content_filter";
  return null;
}

/** Every provider failed or was skipped: 429 when all were limited, else 503, with a summary. */
function allSpent(req: ChainRequest, outcomes: Outcome[], attempts: number): Response {
  const limited = outcomes.length > 0 && outcomes.every((outcome) => outcome.limited);
  const status = limited ? 429 : 503;
  const summary = outcomes
    .map((o) => (o.category === "skipped" ? `${o.provider}: skipped (${o.detail})` : `${o.provider}: ${o.category} (${o.status || "no response"})`))
    .join("; ");
  const message = `All providers for model "${req.route}" failed: ${summary || "the route has no providers"}`;
  const reopenings = outcomes.flatMap((o) => (o.retryAt === undefined ? [] : [o.retryAt]));
  const headers = new Headers();
  if (reopenings.length) {
    headers.set("retry-after", String(Math.max(1, Math.ceil((Math.min(...reopenings) - Date.now()) / 1000))));
  }
  const code = limited ? "all_providers_rate_limited" : "all_providers_failed";
  req.log.end("infer_failed", {
    status,
    category: limited ? "RateLimit" : lastCategory(outcomes),
    attempts,
    message,
  });
  return Response.json(openAIError(message, limited ? "rate_limit_error" : "server_error", code), { status, headers });
}

function lastCategory(outcomes: Outcome[]): ErrorCategory {
  const called = outcomes.filter((o): o is Outcome & { category: ErrorCategory } => o.category !== "skipped");
  return called.at(-1)?.category ?? "Unknown";
}
