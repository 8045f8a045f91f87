// POST /v1/chat/completions: validate the body, pick the route, walk its chain.
import type { Context } from "hono";
import { ChatCompletionRequestSchema, type ChatCompletionRequest } from "../shared/openai.ts";
import type { AppEnv } from "./http.ts";
import { requireRoute, validateBody, walkRoute } from "./routes/route.ts";

export { resolveRoute, type Route } from "./routes/route.ts";

/** Checks the body against the OpenAI schema; unknown fields stay in it and go upstream untouched. */
export const validateChatRequest = validateBody(ChatCompletionRequestSchema);

export async function chatCompletions(c: Context<AppEnv, "/v1/chat/completions", { out: { json: ChatCompletionRequest } }>) {
  const body = c.req.valid("json");
  const route = requireRoute(c, body.model, "chat");
  const response = await walkRoute(c, route, body, { stream: body.stream === true });
  // Through the context, so the headers set by middleware (x-request-id) are added; the body is not copied.
  return c.newResponse(response.body, response);
}
