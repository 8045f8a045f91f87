// The chain's shared types, in one module so that no two chain files import each other: the
// request a walk serves and its state, an admitted provider, an attempt's context and result, and
// how a walk ends.
import type { AnthropicRequest } from "../../shared/anthropic.ts";
import type { Capability, Endpoint, ProviderConfig, RouterConfig, Strategy, StreamRelay } from "../../shared/config.ts";
import type { EmbeddingRequest } from "../../shared/embeddings.ts";
import type { ErrorCategory } from "../../shared/errors.ts";
import type { ChatCompletionRequest, Usage } from "../../shared/openai.ts";
import type { Env } from "../env.ts";
import type { InferLog } from "../oplog.ts";
import type { UpstreamRequest } from "../providers.ts";
import type { QuotaClient, Reservation } from "../quota/client.ts";
import type { ContinueWith, Segment, StreamEnd } from "../stream/types.ts";

export interface ChainRequest {
  config: RouterConfig;
  env: Env;
  route: string;
  chain: readonly string[];
  body: ChatCompletionRequest | EmbeddingRequest;
  /**
   * The client's own Messages request (POST /v1/messages), `body` being its chat translation: an
   * `anthropic` provider is sent this as it is (providers/anthropic/upstream.ts), the others `body`.
   */
  messages?: AnthropicRequest;
  /** What to call upstream: chat completions (default) or embeddings, which answer `data`, never a stream. */
  endpoint?: Endpoint;
  log: InferLog;
  clientSignal: AbortSignal;
  quota: QuotaClient;
  /** The route's strategy (default ordered) and the random source weighted and least_used draw from. */
  strategy?: Strategy;
  random?: () => number;
  /** The route's stream relay and restart_on_break (absent: the global defaults). */
  streamRelay?: StreamRelay;
  restartOnBreak?: boolean;
}

/** What happened at one provider, for the final error's summary. */
export interface Outcome {
  provider: string;
  category: ErrorCategory | "skipped";
  status: number;
  detail: string;
  /** Epoch ms when this provider can be tried again, when known. */
  retryAt?: number;
  /** Counts as rate- or quota-limited for the all-spent status. */
  limited: boolean;
  /** Skipped because it cannot take this request at all (plan.ts), and what it lacks. */
  unfit?: "capability" | "context";
  missing?: Capability[];
  /** Skipped because its key is not configured: it says nothing of whether the request can be served. */
  unconfigured?: true;
}

export interface WalkState {
  /** Upstream calls so far, retries included: what x-inferrouter-attempts and max_attempts count. */
  attempts: number;
  outcomes: Outcome[];
  /** Epoch ms past which no call starts and a running one is cut (request_timeout_ms). */
  deadline: number;
  /** The providers after the one being called: where a broken stream may be continued (continuation.ts). */
  later: readonly string[];
}

export interface Admitted {
  providerId: string;
  provider: ProviderConfig;
  upstream: UpstreamRequest;
  /** The one call a half-open circuit lets through: not retried. */
  trial: boolean;
  /** The circuit's failure count when admitted: a success then has something to reset. */
  failures: number;
  /** What the admission reserved at the provider's tracker, settled when the answer ends (learn.ts). */
  reservation?: Reservation;
}

export interface AttemptFailure {
  ok: false;
  category: ErrorCategory;
  /** Upstream's status, or 0 when no answer came (network error, timeout). */
  status: number;
  /** Sanitized: safe for logs and clients. */
  message: string;
  code: string | null;
  type: string | null;
  param: string | null;
  retryAfterMs?: number;
  headers?: Headers;
}

export interface AttemptSuccess {
  ok: true;
  response: Response;
  /** Upstream's own headers (rate-limit counters), not forwarded to the client. */
  upstreamHeaders: Headers;
  ttftMs?: number;
  /** JSON answers: known at once. Streams: reported through `onStreamEnd`. */
  usage?: Usage;
  finishReason?: string | null;
}

export type AttemptResult = AttemptSuccess | AttemptFailure | { ok: false; cancelled: true };

export interface AttemptContext {
  provider: ProviderConfig;
  config: RouterConfig;
  upstream: UpstreamRequest;
  /** This call's time limit: the provider's own, cut to what is left of the request's deadline. */
  timeoutMs: number;
  stream: boolean;
  endpoint: Endpoint;
  clientWantsUsage: boolean;
  clientSignal: AbortSignal;
  startedAt: number;
  onStreamEnd: (end: StreamEnd) => void;
  /** Set when a later provider could continue this stream if it breaks after it began (continuation.ts). */
  continueWith?: ContinueWith;
  /** Set when this call continues a stream another provider broke. */
  segment?: Segment;
  /** The route's stream relay (default frames). */
  streamRelay?: StreamRelay;
  /** The prompt's estimated tokens, set when upstream is not asked for usage (native relay): the usage is estimated. */
  estimatePromptTokens?: number;
}

export type WalkEnd =
  | { kind: "answered"; admitted: Admitted; attempts: number; result: AttemptSuccess }
  | { kind: "cancelled"; providerId?: string }
  | { kind: "provider_error"; admitted: Admitted; failed: AttemptFailure; attempts: number }
  | { kind: "spent" }
  | { kind: "client_limited"; reason: string; retryAt: number }
  | { kind: "deadline" }
  | { kind: "attempt_cap" };
