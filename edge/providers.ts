// The upstream request for one provider: its URL, headers, key and body. `openai_compatible` and
// `local_gguf` speak the OpenAI wire format; `local_gguf` (the sidecar behind a Cloudflare Tunnel)
// adds Access service-token headers and the request id; `anthropic` is sent a Messages body
// (providers/anthropic/), whose answers the attempt translates back.
// Body hygiene (drop_fields, body_defaults, body_overrides): providers/operator-fields.ts.
import type { AnthropicRequest } from "../shared/anthropic.ts";
import type { Endpoint, ProviderConfig, RouterConfig } from "../shared/config.ts";
import type { EmbeddingRequest } from "../shared/embeddings.ts";
import { DEFAULT_FIRST_TOKEN_TIMEOUT_MS, DEFAULT_STREAM_IDLE_TIMEOUT_MS, DEFAULT_TIMEOUT_MS } from "../shared/config.ts";
import type { ChatCompletionRequest } from "../shared/openai.ts";
import { readSecret, type Env } from "./env.ts";
import { anthropicBody, anthropicHeaders, messagesUrl } from "./providers/anthropic/upstream.ts";
import { withOperatorFields } from "./providers/operator-fields.ts";

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /**
   * The provider's own time limit for this call until the answer begins (the walk may cut it to the
   * request's deadline): first_token_timeout_ms for a stream, timeout_ms for the whole JSON call.
   */
  timeoutMs: number;
  /** Streams: the longest silence between events once the answer has begun (stream_idle_timeout_ms). */
  idleTimeoutMs: number;
  /** The upstream call streams: the client asked for a stream, or the provider is the sidecar. */
  streamed: boolean;
  /** The provider's own secrets: redacted from anything this attempt logs or returns. */
  secrets: string[];
  /** Set for `type = "anthropic"`: upstream answers the Messages wire, translated back to chat by the attempt. */
  wire?: "messages";
  /** Messages streams: whether the translated stream carries a usage chunk, as include_usage would ask (the frames relay drops it when the client did not). */
  streamUsage?: boolean;
  /** Messages: whitespace cut from the end of a prefill, dropped from the start of the answer's text. */
  trimmedPrefill?: string;
}

export type BuildResult = { ok: true; request: UpstreamRequest } | { ok: false; message: string };

/** The secret names a provider needs, each with the header it fills and the prefix of the value. */
function secretHeaders(provider: ProviderConfig): Array<[secretName: string, header: string, prefix: string]> {
  const needed: Array<[string, string, string]> = [];
  if (provider.api_key_secret) {
    const header = provider.api_key_header?.toLowerCase() ?? (provider.type === "anthropic" ? "x-api-key" : "authorization");
    needed.push([provider.api_key_secret, header, header === "authorization" ? "Bearer " : ""]);
  }
  if (provider.type === "local_gguf") {
    if (provider.access_client_id_secret) needed.push([provider.access_client_id_secret, "cf-access-client-id", ""]);
    if (provider.access_client_secret_secret) {
      needed.push([provider.access_client_secret_secret, "cf-access-client-secret", ""]);
    }
  }
  return needed;
}

/** The client's body as this provider receives it: steering fields dropped, the operator's defaults and overrides applied. */
export function upstreamBody<T extends ChatCompletionRequest | EmbeddingRequest>(config: RouterConfig, provider: ProviderConfig, request: T, askUsage = true): T {
  const body = withOperatorFields(config, provider, request);
  // The sidecar always streams: Cloudflare cuts a tunnelled request that sends no byte for 100 s
  // (524), and a CPU model often needs longer for a whole answer. The edge assembles the JSON.
  if ("messages" in request && streamsUpstream(provider, request)) body.stream = true;
  // Usage is asked for on every stream (for logs and token quotas); the relay drops the extra
  // usage chunk when the client did not ask for it. The native relay cannot drop it: then it is
  // not asked for, and estimated (askUsage false).
  if (body.stream && askUsage) body.stream_options = { ...(body.stream_options as object | undefined), include_usage: true };
  return body as T;
}

/** Whether the upstream call is a stream: the client asked for one, or the provider is the sidecar. */
export function streamsUpstream(provider: ProviderConfig, request: { stream?: boolean | null }): boolean {
  return request.stream === true || provider.type === "local_gguf";
}

/** The headers that carry the provider's key(s), and the values to redact; not ok when a secret is not set. */
export async function keyHeaders(provider: ProviderConfig, env: Env): Promise<{ ok: true; headers: Record<string, string>; secrets: string[] } | { ok: false; message: string }> {
  const headers: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [name, header, prefix] of secretHeaders(provider)) {
    const secret = await readSecret(env, name);
    if (!secret.ok) return { ok: false, message: secret.message };
    headers[header] = prefix + secret.value;
    secrets.push(secret.value);
  }
  return { ok: true, headers, secrets };
}

export async function buildUpstreamRequest(
  config: RouterConfig,
  provider: ProviderConfig,
  request: ChatCompletionRequest | EmbeddingRequest,
  env: Env,
  requestId: string,
  endpoint: Endpoint = "chat",
  askUsage = true,
  messages?: AnthropicRequest,
): Promise<BuildResult> {
  const keys = await keyHeaders(provider, env);
  if (!keys.ok) return keys;
  const { secrets } = keys;
  const headers: Record<string, string> = {
    ...provider.headers,
    "content-type": "application/json",
    accept: endpoint === "chat" && streamsUpstream(provider, request) ? "text/event-stream" : "application/json",
    ...keys.headers,
  };
  // The sidecar logs under the same request id, so one grep follows a request across both.
  if (provider.type === "local_gguf") headers["x-request-id"] = requestId;
  const anthropic = provider.type === "anthropic" && endpoint === "chat" ? anthropicBody(config, provider, request as ChatCompletionRequest, messages) : undefined;
  if (anthropic) Object.assign(headers, anthropicHeaders(provider));

  return {
    ok: true,
    request: {
      url: anthropic ? messagesUrl(provider) : `${provider.base_url.replace(/\/+$/, "")}/${endpoint === "embeddings" ? "embeddings" : "chat/completions"}`,
      headers,
      // Messages always reports usage; askUsage says whether the client's stream gets its chunk.
      body: anthropic ? anthropic.body : JSON.stringify(upstreamBody(config, provider, request, askUsage)),
      ...(anthropic && { wire: "messages" as const, streamUsage: askUsage, trimmedPrefill: anthropic.trimmed }),
      timeoutMs: request.stream
        ? (provider.first_token_timeout_ms ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS[provider.type])
        : (provider.timeout_ms ?? DEFAULT_TIMEOUT_MS[provider.type]),
      idleTimeoutMs: provider.stream_idle_timeout_ms ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS[provider.type],
      streamed: endpoint === "chat" && streamsUpstream(provider, request),
      secrets,
    },
  };
}
