// The chain walk: for each provider of the route, in order, admit it (admit.ts), call it with
// retries (attempt.ts, retry.ts), learn from what happened (learn.ts), and either answer the client
// or move on. How the walk ends is handed to outcome.ts, the one writer of the request's terminal
// log line and of the final error.
import type { ErrorCategory } from "../../shared/errors.ts";
import type { ChatCompletionRequest } from "../../shared/openai.ts";
import { estimatePromptTokens } from "../routing/needs.ts";
import { admitProvider } from "./admit.ts";
import { attempt } from "./attempt.ts";
import { continuationFor } from "./continue.ts";
import { clientNeed } from "../quota/reserve.ts";
import { learnFromFailure, learnFromSuccess, learnNothingUsed, learnTokens } from "./learn.ts";
import { estimatesUsage } from "./native-usage.ts";
import { conclude, streamEndHandler } from "./outcome.ts";
import { planChain, roomAfterContextFailures } from "./plan.ts";
import { pause, retryDelay, type RetryState } from "./retry.ts";
import type { Admitted, AttemptFailure, ChainRequest, Outcome, WalkEnd, WalkState } from "./types.ts";

export type { ChainRequest, Outcome, WalkState } from "./types.ts";

export async function walkChain(req: ChainRequest): Promise<Response> {
  const walk: WalkState = { attempts: 0, outcomes: [], deadline: req.log.startedAt + req.config.request_timeout_ms, later: [] };
  return conclude(req, walk, await walkProviders(req, walk));
}

async function walkProviders(req: ChainRequest, walk: WalkState): Promise<WalkEnd> {
  const order = planChain(req, walk); // capability and context skips, the strategy's order
  if (!order.length) return { kind: "spent" };
  // The client's own limits: one call to its tracker, only for a request that would call a provider.
  const client = await req.quota.admitClient(req.quota.clientLimits && clientNeed(req.body, req.config, order, req.endpoint === "embeddings"));
  if (!client.admitted) {
    if (client.trackerError) req.log.quotaUnavailable({ message: `client tracker: ${client.trackerError}` });
    return { kind: "client_limited", reason: client.reason, retryAt: client.retryAt };
  }
  if (client.trackerError) req.log.quotaUnavailable({ message: `client tracker: ${client.trackerError}` });
  for (const [index, providerId] of order.entries()) {
    walk.later = order.slice(index + 1); // for continuing a stream this provider breaks
    const stop = stopBeforeCall(req, walk);
    if (stop) return stop;
    if (!roomAfterContextFailures(req, walk, providerId)) continue;
    const admitted = await admitProvider(req, walk, providerId);
    if (!admitted) continue;
    const end = await callProvider(req, walk, admitted);
    if (end) return end;
  }
  if (walk.attempts === 0) req.quota.releaseClient(); // it called no provider: it does not count
  return { kind: "spent" };
}

/** Why no further call may start: the client left, the deadline passed, or the attempt cap is reached. */
function stopBeforeCall(req: ChainRequest, walk: WalkState): WalkEnd | undefined {
  if (req.clientSignal.aborted) return { kind: "cancelled" };
  if (Date.now() >= walk.deadline) return { kind: "deadline" };
  if (walk.attempts >= req.config.max_attempts) return { kind: "attempt_cap" };
  return undefined;
}

/**
 * Calls one admitted provider, retrying on the same provider where retry.ts allows. Returns how
 * the walk ends, or undefined when it moves on to the next provider.
 */
async function callProvider(req: ChainRequest, walk: WalkState, admitted: Admitted): Promise<WalkEnd | undefined> {
  const { config, log, body } = req;
  const { providerId, provider } = admitted;
  const retry: RetryState = { retries: 0, waitedForRetryAfter: false };
  for (;;) {
    walk.attempts++;
    const attemptStart = Date.now();
    const timeoutMs = Math.max(1, Math.min(admitted.upstream.timeoutMs, walk.deadline - attemptStart));
    const attempts = walk.attempts;
    let ttftMs: number | undefined; // known once the stream starts, read when it ends
    const result = await attempt({
      provider,
      config,
      upstream: admitted.upstream,
      timeoutMs,
      stream: body.stream === true,
      endpoint: req.endpoint ?? "chat",
      clientWantsUsage: body.stream_options?.include_usage === true,
      clientSignal: req.clientSignal,
      startedAt: log.startedAt,
      onStreamEnd: streamEndHandler(req, admitted, () => walk.attempts, () => ttftMs),
      // A committed stream that breaks may be continued on a later provider with prefill.
      continueWith: continuationFor(req, walk, admitted, walk.later),
      streamRelay: req.streamRelay,
      estimatePromptTokens: estimatesUsage(req) ? estimatePromptTokens(body as ChatCompletionRequest) : undefined,
    });
    if (result.ok) {
      ttftMs = result.ttftMs;
      learnFromSuccess(req.quota, admitted, result.upstreamHeaders, body.stream === true);
      if (!body.stream) learnTokens(req.quota, admitted, result.usage);
      return { kind: "answered", admitted, attempts, result };
    }
    if ("cancelled" in result) return { kind: "cancelled", providerId };

    const failed: AttemptFailure = result;
    // No answer within a limit the request's deadline cut short, not the provider's own: no verdict on
    // the provider. (A 504 or 408 the provider answered is its own verdict, and fails over.)
    const cutByDeadline = failed.category === "Timeout" && failed.status === 0 && timeoutMs < admitted.upstream.timeoutMs;
    const delay = admitted.trial || cutByDeadline ? undefined : retryDelay(failed, provider, retry);
    const canRetry = delay !== undefined && walk.attempts < config.max_attempts && Date.now() + delay < walk.deadline;
    const fields = {
      provider: providerId,
      model: provider.model,
      category: failed.category,
      status: failed.status,
      latency_ms: Date.now() - attemptStart,
      attempts,
      message: failed.message,
    };
    // A 429 about to be waited out sets no cool-down: the wait is the cool-down.
    const cooldown = learnFromFailure(req.quota, admitted, failed, {
      coolDown: !(canRetry && failed.category === "RateLimit"),
      countsForCircuit: !cutByDeadline,
    });
    if (canRetry) {
      log.retry({ ...fields, wait_ms: delay });
      await pause(delay, req.clientSignal);
      if (req.clientSignal.aborted) return { kind: "cancelled", providerId };
      continue;
    }
    learnNothingUsed(req.quota, admitted);
    walk.outcomes.push(outcomeOf(providerId, failed, cooldown?.until));
    if (cutByDeadline) return { kind: "deadline" };
    if (!config.failover_on.includes(failed.category)) return { kind: "provider_error", admitted, failed, attempts };
    log.fallback(fields);
    return undefined;
  }
}

const LIMIT_CATEGORIES: ReadonlySet<ErrorCategory> = new Set(["RateLimit", "QuotaExceeded"]);

function outcomeOf(providerId: string, failed: AttemptFailure, cooldownUntil: number | undefined): Outcome {
  // A reopening is known when upstream said when, or when a daily quota resets; the default
  // rate-limit cool-down is a guess, so it does not become the client's retry-after.
  const now = Date.now();
  const retryAt =
    failed.retryAfterMs !== undefined ? now + failed.retryAfterMs : failed.category === "QuotaExceeded" ? cooldownUntil : undefined;
  return {
    provider: providerId,
    category: failed.category,
    status: failed.status,
    detail: failed.message,
    limited: LIMIT_CATEGORIES.has(failed.category),
    ...(retryAt !== undefined && { retryAt }),
  };
}
