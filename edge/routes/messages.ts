// POST /v1/messages (the Anthropic Messages API): the request becomes a chat request, walks the
// route's chain once like any chat request (quotas, circuits, failover, logs), and the answer is
// translated back, as one message or as Messages stream events. POST /v1/messages/count_tokens
// answers the router's own prompt estimate (the one its context-window checks use).
import type { Context } from "hono";
import { AnthropicCountTokensSchema, AnthropicRequestSchema, type AnthropicCountTokensRequest, type AnthropicRequest } from "../../shared/anthropic.ts";
import { toChatRequest } from "../anthropic/request.ts";
import { fromChatCompletion } from "../anthropic/response.ts";
import { pingWhileWaiting } from "../anthropic/pings.ts";
import { messagesHead, toMessagesStream } from "../anthropic/stream.ts";
import { SSE_HEADERS } from "../../shared/sse.ts";
import type { AppEnv } from "../http.ts";
import { estimatePromptTokens } from "../routing/needs.ts";
import { requireRoute, validateBody, walkRoute } from "./route.ts";

export const validateMessagesRequest = validateBody(AnthropicRequestSchema);
export const validateCountTokensRequest = validateBody(AnthropicCountTokensSchema);

export async function messages(c: Context<AppEnv, "/v1/messages", { out: { json: AnthropicRequest } }>) {
  const request = c.req.valid("json");
  const route = requireRoute(c, request.model, "chat");
  const stream = request.stream === true;
  const chat = toChatRequest(request);
  // An anthropic provider is sent the request itself (the OUT direction's pass-through).
  const walk = walkRoute(c, route, chat, { stream, messages: request });
  // The message names the route (what the client can send back), not the upstream model.
  const model = { model: route.name, stop_sequences: request.stop_sequences };
  const estimate = estimatePromptTokens(chat);
  const answer = stream
    ? await pingWhileWaiting(walk, c.get("config").messages_ping_ms, {
        head: messagesHead(model, estimate),
        translate: (body) => toMessagesStream(body, model, estimate, false),
      })
    : await walk;
  if (answer instanceof ReadableStream) return c.newResponse(answer, 200, SSE_HEADERS);
  // Errors stay OpenAI-shaped here: anthropicErrors (edge/anthropic/errors.ts) rewrites them.
  if (!answer.ok || !answer.body) return c.newResponse(answer.body, answer);
  // The walk's headers: SSE or JSON content type, x-inferrouter-provider and -attempts.
  const headers = new Headers(answer.headers);
  if (stream) return c.newResponse(toMessagesStream(answer.body, model, estimate), { status: 200, headers });
  headers.delete("content-length");
  return c.json(fromChatCompletion(route.name, await answer.json(), request.stop_sequences), 200, Object.fromEntries(headers));
}

export function countTokens(c: Context<AppEnv, "/v1/messages/count_tokens", { out: { json: AnthropicCountTokensRequest } }>) {
  return c.json({ input_tokens: estimatePromptTokens(toChatRequest(c.req.valid("json"))) });
}
