// Continuing a broken answer. A committed stream that breaks (cut, idle past stream_idle_timeout_ms,
// an upstream error event) is sent on to a later provider of the route that declares `prefill`
// (or, with restart_on_break, to any later provider, re-asked afresh: stream/restart.ts):
// the same request with the text so far as a trailing assistant message, admitted and counted like
// any attempt. Its chunks join the client's stream (stream/relay.ts rewrites their id and drops their role
// chunk), so the client sees one answer. Its own break can be continued by the next such provider.
import { capabilitiesOf } from "../../shared/config.ts";
import type { ChatCompletionRequest } from "../../shared/openai.ts";
import type { ContinuationEnd, Continued, ContinuedStream, ContinueRequest, ContinueWith, StreamEnd } from "../stream/types.ts";
import { addUsage } from "../usage/sum.ts";
import { admitProvider } from "./admit.ts";
import { attempt } from "./attempt.ts";
import { learnFromStreamEnd, learnFromFailure, learnFromSuccess, learnNothingUsed, learnTokens } from "./learn.ts";
import type { Admitted, ChainRequest, WalkState } from "./types.ts";

/**
 * The continuation hook for a stream answered by `broken`, or undefined when none of the `later`
 * providers has prefill: then the relay keeps no text and parses only the frames it must.
 */
export function continuationFor(req: ChainRequest, walk: WalkState, broken: Admitted, later: readonly string[]): ContinueWith | undefined {
  // n > 1 streams several answers at once: one prefill cannot carry them all.
  if (!req.body.stream || Number((req.body as { n?: unknown }).n ?? 1) > 1) return undefined;
  // restart_on_break: a provider without prefill is re-asked afresh (stream/restart.ts matches its answer).
  const candidates = later.filter((id) => req.restartOnBreak || canPrefill(req, id));
  if (!candidates.length) return undefined;
  return (request) => continueOn(req, walk, broken, candidates, request);
}

function canPrefill(req: ChainRequest, providerId: string): boolean {
  return capabilitiesOf(req.config.providers[providerId]!).has("prefill");
}

/** The request as a continuation: the text so far as the assistant's own, unfinished message. */
export function withPrefill(body: ChatCompletionRequest, text: string): ChatCompletionRequest {
  if (!text) return body; // broken while only reasoning: nothing to carry, the next provider answers afresh
  return { ...body, messages: [...body.messages, { role: "assistant", content: text }] };
}

async function continueOn(
  req: ChainRequest,
  walk: WalkState,
  broken: Admitted,
  candidates: readonly string[],
  request: ContinueRequest,
): Promise<ContinuedStream | undefined> {
  const carried_chars = request.text.length;
  req.log.fallback({
    provider: broken.providerId,
    model: broken.provider.model,
    category: request.failure.category,
    status: 200,
    attempts: walk.attempts,
    message: request.failure.message,
    continued: true,
    carried_chars,
  });
  // Only chat streams are continued (embeddings never stream).
  // Continuations are read frame by frame (their chunks are rewritten), so they ask for usage.
  // The prefill is in the chat body only: a Messages client's own request is not passed through here.
  const prefilled: ChainRequest = { ...req, messages: undefined, streamRelay: "frames", body: withPrefill(req.body as ChatCompletionRequest, request.text) };
  const restarting: ChainRequest = { ...req, streamRelay: "frames" };
  for (const [index, providerId] of candidates.entries()) {
    const restart = !canPrefill(req, providerId);
    const continuing = restart ? restarting : prefilled;
    // The stream has committed, so the request's deadline no longer applies; the client and the attempt cap do.
    if (request.signal.aborted || walk.attempts >= req.config.max_attempts) return undefined;
    const admitted = await admitProvider(continuing, walk, providerId);
    if (!admitted) continue;
    walk.attempts++;
    const attemptStart = Date.now();
    let settle!: (end: StreamEnd) => void;
    const ended = new Promise<StreamEnd>((resolve) => (settle = resolve));
    const result = await attempt({
      provider: admitted.provider,
      config: req.config,
      upstream: admitted.upstream,
      timeoutMs: admitted.upstream.timeoutMs,
      stream: true,
      endpoint: "chat",
      clientWantsUsage: req.body.stream_options?.include_usage === true,
      clientSignal: request.signal,
      startedAt: req.log.startedAt,
      onStreamEnd: settle,
      continueWith: continuationFor(req, walk, admitted, candidates.slice(index + 1)),
      segment: { chunkId: request.chunkId, carried: request.text, original: request.original, restart },
    });
    if (result.ok) {
      learnFromSuccess(req.quota, admitted, result.upstreamHeaders, true);
      return { body: result.response.body!, ended: ended.then((end) => segmentEnded(req, admitted, end, restart)) };
    }
    // A client that left has its terminal line already: nothing may be logged after it.
    if ("cancelled" in result || request.signal.aborted) return undefined;
    learnFromFailure(req.quota, admitted, result, { coolDown: true, countsForCircuit: true });
    learnNothingUsed(req.quota, admitted);
    req.log.fallback({
      provider: providerId,
      model: admitted.provider.model,
      category: result.category,
      status: result.status,
      latency_ms: Date.now() - attemptStart,
      attempts: walk.attempts,
      message: result.message,
      continued: true,
      carried_chars,
      ...(restart && { restarted: true }),
    });
  }
  return undefined;
}

/** What a continuation's end teaches about its provider, and where the answer ended up. */
function segmentEnded(req: ChainRequest, admitted: Admitted, end: StreamEnd, restart: boolean): ContinuationEnd {
  learnTokens(req.quota, admitted, end.tap.usage);
  learnFromStreamEnd(req.quota, admitted, end);
  const own: Continued = {
    provider: admitted.providerId,
    model: admitted.provider.model,
    usage: end.tap.usage,
    finishReason: end.tap.finishReason,
    droppedEvents: end.tap.droppedEvents,
    ...(restart && { restarted: { matchedChars: end.tap.matchedChars ?? 0 } }),
  };
  const later = end.continued;
  const continued: Continued = later
    ? { ...later, usage: addUsage(own.usage, later.usage), droppedEvents: own.droppedEvents + later.droppedEvents }
    : own;
  if (end.outcome === "failed") return { outcome: "failed", category: end.category, message: end.message, continued };
  return { outcome: end.outcome, continued };
}
