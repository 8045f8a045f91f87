// What a `type = "anthropic"` provider is sent: the anthropic-version and anthropic-beta headers,
// the /messages URL, and the Messages body (the chat request translated, or a Messages client's
// own), with the operator's drop_fields, body_defaults and body_overrides applied to it (so they
// name Messages fields: top_k, thinking, …).
import type { AnthropicMessageParam, AnthropicRequest } from "../../../shared/anthropic.ts";
import { DEFAULT_ANTHROPIC_VERSION, type ProviderConfig, type RouterConfig } from "../../../shared/config.ts";
import { withOperatorFields } from "../operator-fields.ts";
import type { ChatCompletionRequest } from "../../../shared/openai.ts";
import { toMessagesBody, trimPrefill } from "./request.ts";

export function messagesUrl(provider: ProviderConfig): string {
  return `${provider.base_url.replace(/\/+$/, "")}/messages`;
}

export function anthropicHeaders(provider: ProviderConfig): Record<string, string> {
  const headers: Record<string, string> = { "anthropic-version": provider.anthropic_version ?? DEFAULT_ANTHROPIC_VERSION };
  const beta = provider.anthropic_beta;
  if (beta?.length) headers["anthropic-beta"] = typeof beta === "string" ? beta : beta.join(",");
  return headers;
}

/**
 * The Messages body a provider is sent, and the whitespace cut from a prefill: the chat request
 * translated, or (pass-through) a Messages client's own request as it came, which keeps what chat
 * has no field for (cache_control, thinking blocks and their signatures, top_k, …). Either way
 * what Anthropic would refuse with a 400 is fixed here: the prefill's trailing whitespace is cut
 * (the answer's first text starts with it, which the translation back drops so the client's text
 * does not repeat it) and the temperature capped.
 */
export function anthropicBody(config: RouterConfig, provider: ProviderConfig, request: ChatCompletionRequest, passThrough?: AnthropicRequest): { body: string; trimmed: string } {
  const body = passThrough ? { ...passThrough, messages: passThrough.messages.map(withoutUnsignedThinking) } : toMessagesBody(request, provider);
  const trimmed = trimPrefill(body.messages);
  // Messages takes 0..1; OpenAI's 1..2 (more random), which the edge accepts, is cut to Anthropic's most random.
  if (body.temperature != null) body.temperature = Math.min(body.temperature, 1);
  // No operator sets stream (check-config refuses it in body_defaults and body_overrides): it stays the client's.
  return { body: JSON.stringify(withOperatorFields(config, provider, body)), trimmed };
}

/**
 * A thinking block without its signature (one this router answered: chat carries no signatures)
 * would be refused by Anthropic as tampered: it is left out. Signed ones go back as they came.
 */
function withoutUnsignedThinking(message: AnthropicMessageParam): AnthropicMessageParam {
  if (!message.content.some((block) => block.type === "thinking" && !block.signature)) return message;
  return { ...message, content: message.content.filter((block) => block.type !== "thinking" || block.signature) };
}
