// What a `type = "anthropic"` provider is sent besides the translated body: the anthropic-version
// and anthropic-beta headers, the /messages URL, and the operator's body_defaults and
// body_overrides, applied to the Messages body (so they name Messages fields: top_k, thinking, …).
import type { AnthropicRequest } from "../../../shared/anthropic.ts";
import { DEFAULT_ANTHROPIC_VERSION, type ProviderConfig } from "../../../shared/config.ts";
import type { ChatCompletionRequest } from "../../../shared/openai.ts";
import { toMessagesBody } from "./request.ts";

export function messagesUrl(provider: ProviderConfig): string {
  return `${provider.base_url.replace(/\/+$/, "")}/messages`;
}

export function anthropicHeaders(provider: ProviderConfig): Record<string, string> {
  const headers: Record<string, string> = { "anthropic-version": provider.anthropic_version ?? DEFAULT_ANTHROPIC_VERSION };
  const beta = provider.anthropic_beta;
  if (beta?.length) headers["anthropic-beta"] = typeof beta === "string" ? beta : beta.join(",");
  return headers;
}

/** The operator's defaults and overrides on a Messages body; model and stream stay the edge's. */
export function withOperatorFields(provider: ProviderConfig, body: Record<string, unknown>): Record<string, unknown> {
  for (const [field, value] of Object.entries(provider.body_defaults ?? {})) if (body[field] === undefined) body[field] = value;
  Object.assign(body, provider.body_overrides);
  body.model = provider.model;
  return body;
}

/**
 * The Messages body a provider is sent, and the whitespace cut from a prefill: the chat request
 * translated, or (pass-through) a Messages client's own request as it came, which keeps what chat
 * has no field for (cache_control, thinking blocks and their signatures, top_k, …).
 */
export function anthropicBody(provider: ProviderConfig, request: ChatCompletionRequest, passThrough?: AnthropicRequest): { body: string; trimmed: string } {
  if (passThrough) {
    const body: Record<string, unknown> = { ...passThrough };
    // The chain decides the stream (the client's ask, never the operator's).
    if (request.stream) body.stream = true;
    else delete body.stream;
    return { body: JSON.stringify(withOperatorFields(provider, body)), trimmed: "" };
  }
  const { body, trimmed } = toMessagesBody(request, provider);
  return { body: JSON.stringify(withOperatorFields(provider, body as Record<string, unknown>)), trimmed };
}
