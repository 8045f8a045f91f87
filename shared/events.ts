// The operation log: one JSON object per line, written by the edge (console.log -> Workers Logs /
// Logpush) and the sidecar (pino). Every `infer_started` is followed by exactly one terminal event
// (`infer_completed`, `infer_failed` or `infer_cancelled`) with the same `request_id`.
import * as z from "zod";
import { ERROR_CATEGORIES } from "./errors.ts";

export const EVENT_NAMES = [
  "infer_started",
  "infer_skipped",
  "infer_fallback",
  // A failed call tried again on the same provider (retries, a short retry-after waited out).
  "infer_retry",
  "infer_completed",
  "infer_failed",
  "infer_cancelled",
  // Not part of a request's lifecycle: a quota tracker could not answer, so the edge failed open.
  "quota_unavailable",
] as const;
export type EventName = (typeof EVENT_NAMES)[number];

export const TERMINAL_EVENTS: ReadonlySet<EventName> = new Set(["infer_completed", "infer_failed", "infer_cancelled"]);

export const SKIP_REASONS = ["rpm", "daily", "tokens", "budget", "cooldown", "circuit_open", "missing_key", "capability", "context", "quota_unavailable"] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export const InferEventSchema = z.object({
  ts: z.string().describe("ISO-8601 time the event was written"),
  event: z.enum(EVENT_NAMES),
  request_id: z.string(),
  route: z.string().describe("the route (model alias) the request asked for"),
  source: z.enum(["edge", "sidecar"]).optional(),
  provider: z.string().optional().describe("provider id this event concerns"),
  model: z.string().optional().describe("the provider's own model name"),
  stream: z.boolean().optional(),
  client: z.string().optional().describe("short hash label of the client key, never the key"),
  category: z.enum(ERROR_CATEGORIES).optional(),
  status: z.number().int().optional().describe("HTTP status: upstream's for fallback, the client's for terminal"),
  reason: z.string().optional().describe("why a provider was skipped; infer_failed: a client's own limit (budget_exceeded, client_rate_limited)"),
  retry_at: z.string().optional().describe("ISO time a skipped provider reopens"),
  capability: z.string().optional().describe("infer_skipped with reason capability: what the provider lacks (comma-separated)"),
  latency_ms: z.number().optional(),
  ttft_ms: z.number().optional().describe("time to the first content byte of a stream"),
  prompt_tokens: z.number().int().optional(),
  completion_tokens: z.number().int().optional(),
  total_tokens: z.number().int().optional(),
  cost_usd: z.number().nullable().optional().describe("terminal: USD the answer cost at the providers' prices (continuations added); null when a price is unknown; 0 when nothing was generated"),
  cost_estimated: z.boolean().optional().describe("terminal: cost_usd comes from the router's token estimate, the provider reported no usage"),
  tokens_per_second: z.number().optional(),
  finish_reason: z.string().nullable().optional(),
  attempts: z.number().int().optional().describe("upstream calls so far for this request, retries included"),
  wait_ms: z.number().optional().describe("infer_retry: how long the edge waits before calling the same provider again"),
  message: z.string().optional(),
  endpoint: z.enum(["chat", "responses", "embeddings", "messages"]).optional().describe("the API the client called"),
  api: z.enum(["anthropic"]).optional().describe("start and terminal lines: the wire format the client spoke, where it is not OpenAI's (/v1/messages: anthropic)"),
  continued: z.boolean().optional().describe("infer_fallback: a broken stream moves on to be continued; terminal: the answer was continued"),
  continued_from: z
    .object({ provider: z.string(), model: z.string(), cost_usd: z.number().nullable() })
    .optional()
    .describe("terminal of a continued answer: the provider whose stream broke, and its part of cost_usd (the history counts it there)"),
  carried_chars: z.number().int().optional().describe("infer_fallback with continued: characters of the answer sent on as the prefill"),
  restarted: z.boolean().optional().describe("infer_fallback with continued, and the terminal line: the answer was restarted on a provider without prefill (restart_on_break)"),
  matched_chars: z.number().int().optional().describe("terminal of a restarted answer: characters of the new answer that repeated the text the client had"),
  usage_estimated: z.boolean().optional().describe("terminal of a stream under the native relay whose client did not ask for usage: the token counts are estimates"),
  dropped_events: z.number().int().optional().describe("terminal of a stream: upstream events dropped because their data was not JSON"),
  tracker_waits: z.number().int().optional().describe("terminal: quota tracker calls the request waited for (0 when leases admitted it)"),
  tracker_ms: z.number().optional().describe("terminal: how long the request waited for quota trackers in all"),
});
export type InferEvent = z.infer<typeof InferEventSchema>;
