// POST /v1/embeddings: only embeddings routes, whose providers all share one embedding space, so
// failover moves between hosts of the same model and vectors stay comparable.
import type { Context } from "hono";
import { EmbeddingRequestSchema, type EmbeddingRequest } from "../../shared/embeddings.ts";
import { toClientAnswer, toUpstreamRequest } from "../embeddings/translate.ts";
import type { AppEnv } from "../http.ts";
import { requireRoute, validateBody, walkRoute } from "./route.ts";

export const validateEmbeddingRequest = validateBody(EmbeddingRequestSchema);

export async function embeddings(c: Context<AppEnv, "/v1/embeddings", { out: { json: EmbeddingRequest } }>) {
  const request = c.req.valid("json");
  const route = requireRoute(c, request.model, "embeddings");
  const answer = await walkRoute(c, route, toUpstreamRequest(request), { stream: false, endpoint: "embeddings" });
  if (!answer.ok) return c.newResponse(answer.body, answer);
  const headers = new Headers(answer.headers);
  headers.delete("content-length");
  return c.json(toClientAnswer(request, await answer.json()), 200, Object.fromEntries(headers));
}
