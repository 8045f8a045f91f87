// POST /v1/responses (stateless): the Responses request becomes a chat request, walks the route's
// chain once like any chat request (quotas, circuits, failover, logs), and the answer is
// translated back, as one JSON object or as Responses events.
import type { Context } from "hono";
import { ResponsesRequestSchema, type ResponsesRequest } from "../../shared/responses.ts";
import type { AppEnv } from "../http.ts";
import { toChatRequest } from "../responses/request.ts";
import { fromChatCompletion } from "../responses/response.ts";
import { toResponsesStream } from "../responses/stream.ts";
import { requireRoute, validateBody, walkRoute } from "./route.ts";

export const validateResponsesRequest = validateBody(ResponsesRequestSchema);

export async function responses(c: Context<AppEnv, "/v1/responses", { out: { json: ResponsesRequest } }>) {
  const request = c.req.valid("json");
  const route = requireRoute(c, request.model, "chat");
  const stream = request.stream === true;
  const answer = await walkRoute(c, route, toChatRequest(request), { stream });
  // Errors are already OpenAI-shaped, as the Responses API shapes them too.
  if (!answer.ok || !answer.body) return c.newResponse(answer.body, answer);
  // The walk's headers: SSE or JSON content type, x-inferrouter-provider and -attempts.
  const headers = new Headers(answer.headers);
  if (stream) return c.newResponse(toResponsesStream(answer.body, request), { status: 200, headers });
  headers.delete("content-length");
  return c.json(fromChatCompletion(request, await answer.json()), 200, Object.fromEntries(headers));
}
