// How to call a provider: its URL, headers, model and key. Both provider types speak the OpenAI
// wire format; `local_gguf` (the sidecar behind a Cloudflare Tunnel) adds Access service-token headers.
import type { Endpoint, ProviderConfig } from "../shared/config.ts";
import type { EmbeddingRequest } from "../shared/embeddings.ts";
import { DEFAULT_TIMEOUT_MS } from "../shared/config.ts";
import type { ChatCompletionRequest } from "../shared/openai.ts";
import { readSecret, type Env } from "./env.ts";

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** The provider's own secrets: redacted from anything this attempt logs or returns. */
  secrets: string[];
}

export type BuildResult = { ok: true; request: UpstreamRequest } | { ok: false; message: string };

/** The secret names a provider needs, each with the header it fills. */
function secretHeaders(provider: ProviderConfig): Array<[secretName: string, header: string, prefix: string]> {
  const needed: Array<[string, string, string]> = [];
  if (provider.api_key_secret) needed.push([provider.api_key_secret, "authorization", "Bearer "]);
  if (provider.type === "local_gguf") {
    if (provider.access_client_id_secret) needed.push([provider.access_client_id_secret, "cf-access-client-id", ""]);
    if (provider.access_client_secret_secret) {
      needed.push([provider.access_client_secret_secret, "cf-access-client-secret", ""]);
    }
  }
  return needed;
}

export async function buildUpstreamRequest(
  provider: ProviderConfig,
  request: ChatCompletionRequest | EmbeddingRequest,
  env: Env,
  requestId: string,
  endpoint: Endpoint = "chat",
): Promise<BuildResult> {
  const headers: Record<string, string> = {
    ...provider.headers,
    "content-type": "application/json",
    accept: request.stream ? "text/event-stream" : "application/json",
  };
  const secrets: string[] = [];
  for (const [name, header, prefix] of secretHeaders(provider)) {
    const value = await readSecret(env, name);
    if (!value) return { ok: false, message: `secret ${name} is not set` };
    headers[header] = prefix + value;
    secrets.push(value);
  }
  // The sidecar logs under the same request id, so one grep follows a request across both.
  if (provider.type === "local_gguf") headers["x-request-id"] = requestId;

  const upstreamBody = { ...request, model: provider.model };
  // Usage is asked for on every stream (for logs and token quotas); the relay drops the extra
  // usage chunk when the client did not ask for it.
  if (request.stream) upstreamBody.stream_options = { ...request.stream_options, include_usage: true };

  return {
    ok: true,
    request: {
      url: `${provider.base_url.replace(/\/+$/, "")}/${endpoint === "embeddings" ? "embeddings" : "chat/completions"}`,
      headers,
      body: JSON.stringify(upstreamBody),
      timeoutMs: provider.timeout_ms ?? DEFAULT_TIMEOUT_MS[provider.type],
      secrets,
    },
  };
}
