// An embeddings request on its way upstream, and the upstream answer on its way back. Upstream is
// always asked for floats (many providers ignore base64); the edge encodes base64 itself when the
// client asked for it (the openai SDK does by default).
import type { Embedding, EmbeddingList, EmbeddingRequest } from "../../shared/embeddings.ts";
import { fromBase64, toBase64 } from "../../shared/embedding-vectors.ts";

export function toUpstreamRequest(request: EmbeddingRequest): EmbeddingRequest {
  return { ...request, encoding_format: "float" };
}

interface UpstreamEmbeddings {
  data: Array<{ index?: number; embedding: number[] | string }>;
  model?: string;
  usage?: { prompt_tokens?: number; total_tokens?: number };
}

export function toClientAnswer(request: EmbeddingRequest, upstream: UpstreamEmbeddings): EmbeddingList {
  const base64 = request.encoding_format === "base64";
  const data: Embedding[] = upstream.data.map((item, position) => {
    const floats = typeof item.embedding === "string" ? fromBase64(item.embedding) : item.embedding;
    return { object: "embedding", index: item.index ?? position, embedding: base64 ? toBase64(floats) : floats };
  });
  const prompt = upstream.usage?.prompt_tokens ?? upstream.usage?.total_tokens ?? 0;
  return {
    object: "list",
    data,
    model: upstream.model ?? request.model,
    usage: { prompt_tokens: prompt, total_tokens: upstream.usage?.total_tokens ?? prompt },
  };
}
