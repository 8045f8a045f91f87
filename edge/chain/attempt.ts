// One call to one provider: send, wait under the provider's timeout with the client's abort linked,
// and either hand back an answer for the client or a categorized failure for the chain walk.
import type { ErrorCategory } from "../../shared/errors.ts";
import type { Usage } from "../../shared/openai.ts";
import { SSE_HEADERS } from "../../shared/sse.ts";
import { categorize, errorStatus, readUpstreamError, retryAfterMs, sanitize, type UpstreamError } from "../normalize.ts";
import { readMessagesAnswer } from "../providers/anthropic/answer.ts";
import { messagesToChatStream } from "../providers/anthropic/stream.ts";
import { assembleCompletion } from "../stream/assemble.ts";
import { IdleTimeout } from "../stream/end-events.ts";
import { SseRelay } from "../stream/relay.ts";
import { answerProblem } from "./answer-shape.ts";
import type { AttemptContext, AttemptFailure, AttemptResult } from "./types.ts";

export type { AttemptContext, AttemptFailure, AttemptResult, AttemptSuccess } from "./types.ts";

class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = "AttemptTimeout";
  }
}

export async function attempt(ctx: AttemptContext): Promise<AttemptResult> {
  const { upstream, clientSignal } = ctx;
  if (clientSignal.aborted) return { ok: false, cancelled: true };
  const controller = new AbortController();
  let relay: SseRelay | undefined;
  const onClientAbort = () => {
    controller.abort(clientSignal.reason);
    // The runtime does not always cancel a streamed body when its client goes away: end it here.
    relay?.clientGone(clientSignal.reason);
  };
  clientSignal.addEventListener("abort", onClientAbort);
  const timer = setTimeout(() => controller.abort(new AttemptTimeout(ctx.timeoutMs)), ctx.timeoutMs);
  const done = () => {
    clearTimeout(timer);
    clientSignal.removeEventListener("abort", onClientAbort);
  };

  const failure = (error: unknown): AttemptResult => {
    done();
    if (clientSignal.aborted) return { ok: false, cancelled: true };
    return transportFailure(error, controller.signal.reason, ctx);
  };

  let response: Response;
  try {
    response = await fetch(upstream.url, {
      method: "POST",
      headers: upstream.headers,
      body: upstream.body,
      signal: controller.signal,
      // A redirect is a misconfigured base_url or a provider in trouble: a failure, never followed
      // (following it could hand the key to another host).
      redirect: "manual",
    });
  } catch (error) {
    return failure(error);
  }

  try {
    const eventStream = response.headers.get("content-type")?.includes("text/event-stream");
    if (!response.ok || !upstream.streamed || !eventStream || !response.body) {
      const text = await response.text();
      done();
      return finishJson(response, text, ctx);
    }
    // An anthropic provider's events, as chat chunks: the relay reads one wire.
    const body = upstream.wire === "messages" ? response.body.pipeThrough(messagesToChatStream(upstream.streamUsage ?? true, upstream.trimmedPrefill)) : response.body;
    // A JSON client of a provider called as a stream (the sidecar): the whole call stays under timeout_ms.
    if (!ctx.stream) {
      const assembled = await assembleCompletion(body);
      done();
      if (!assembled.ok) return upstreamFailure(assembled.error, response.headers, ctx);
      return finishJson(response, JSON.stringify(assembled.completion), ctx);
    }
    relay = new SseRelay(body, {
      clientWantsUsage: ctx.clientWantsUsage,
      clientSignal,
      abort: (reason) => controller.abort(reason),
      idleTimeoutMs: upstream.idleTimeoutMs,
      continueWith: ctx.continueWith,
      segment: ctx.segment,
      native: ctx.streamRelay === "native",
      estimatePromptTokens: ctx.estimatePromptTokens,
      readFailure: (error) => (clientSignal.aborted ? "cancelled" : streamReadFailure(error, controller.signal.reason)),
      describeError: (error) => {
        const failure = upstreamFailure(error, response.headers, ctx);
        return { category: failure.category, message: failure.message };
      },
      onEnd: (end) => {
        clientSignal.removeEventListener("abort", onClientAbort);
        ctx.onStreamEnd(end);
      },
    });
    const peek = await relay.peek();
    clearTimeout(timer);
    if (!peek.ok) {
      done();
      controller.abort();
      if ("cancelled" in peek) return { ok: false, cancelled: true };
      return upstreamFailure(peek.error, response.headers, ctx);
    }
    return {
      ok: true,
      upstreamHeaders: response.headers,
      ttftMs: Date.now() - ctx.startedAt,
      response: new Response(relay.toClientStream(), { status: 200, headers: SSE_HEADERS }),
    };
  } catch (error) {
    // A broken frame or a failed read: the upstream connection is of no further use.
    controller.abort(error);
    return failure(error);
  }
}

/** A non-stream answer (or a stream request answered with an error status or JSON). */
function finishJson(response: Response, text: string, ctx: AttemptContext): AttemptResult {
  if (response.status >= 300 && response.status < 400) {
    const error = { ...readUpstreamError(response.status, text), message: `upstream answered ${response.status} (a redirect, not followed)` };
    return upstreamFailure(error, response.headers, ctx);
  }
  if (!response.ok) return upstreamFailure(readUpstreamError(response.status, text), response.headers, ctx);
  let body: { error?: unknown; choices?: unknown; data?: unknown; usage?: Usage; object?: string };
  try {
    body = JSON.parse(text);
  } catch {
    return upstreamFailure(readUpstreamError(502, text), response.headers, ctx, "upstream answered 200 with a body that is not JSON");
  }
  if (ctx.upstream.wire === "messages" && !ctx.stream) {
    const answer = readMessagesAnswer(body as Parameters<typeof readMessagesAnswer>[0], ctx.upstream.trimmedPrefill);
    if (!answer.ok) return upstreamFailure(readUpstreamError("status" in answer ? answer.status : 502, text), response.headers, ctx, "why" in answer ? answer.why : undefined);
    body = answer.completion;
    text = JSON.stringify(body);
  }
  if (body.error) return upstreamFailure(readUpstreamError(errorStatus(body.error), text), response.headers, ctx);
  // The answer's shape per endpoint (answer-shape.ts): a malformed 200 is a failure, never a success.
  const why = ctx.stream ? "upstream did not answer with an event stream" : answerProblem(ctx.endpoint, body);
  if (why) return upstreamFailure(readUpstreamError(502, text), response.headers, ctx, why);
  const first = (body.choices as unknown[] | undefined)?.[0] as { finish_reason?: string | null } | undefined;
  return {
    ok: true,
    upstreamHeaders: response.headers,
    usage: body.usage,
    finishReason: first?.finish_reason ?? null,
    response: new Response(text, { status: 200, headers: { "content-type": "application/json" } }),
  };
}

function upstreamFailure(error: UpstreamError, headers: Headers, ctx: AttemptContext, why?: string): AttemptFailure {
  const category = why ? "ServerError" : categorize(error, ctx.provider.error_rules, ctx.config.error_rules);
  return {
    ok: false,
    category,
    status: error.status,
    message: sanitize(why ?? (error.message || `HTTP ${error.status}`), ctx.upstream.secrets),
    code: error.code,
    type: error.type,
    param: error.param,
    retryAfterMs: retryAfterMs(headers, Date.now()),
    headers,
  };
}

function transportFailure(error: unknown, abortReason: unknown, ctx: AttemptContext): AttemptFailure {
  const timedOut = abortReason instanceof AttemptTimeout;
  const category: ErrorCategory = timedOut ? "Timeout" : "NetworkError";
  const message = timedOut ? (abortReason as Error).message : `network error: ${(error as Error)?.message ?? error}`;
  return { ok: false, category, status: 0, message: sanitize(message, ctx.upstream.secrets), code: null, type: null, param: null };
}

function streamReadFailure(error: unknown, abortReason: unknown): { category: ErrorCategory; message: string } {
  if (abortReason instanceof IdleTimeout) return { category: "Timeout", message: abortReason.message };
  return { category: "NetworkError", message: `upstream connection failed: ${(error as Error)?.message ?? error}` };
}
