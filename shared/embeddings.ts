// The OpenAI embeddings wire format: the request the edge and the sidecar accept, and the answer.
import * as z from "zod";

const Tokens = z.array(z.number().int().nonnegative()).min(1);

export const EmbeddingRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1), Tokens, z.array(Tokens).min(1)], {
    error: "input must be a string, an array of strings, an array of token ids or an array of token id arrays",
  }),
  encoding_format: z.enum(["float", "base64"]).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
  // Embeddings are never streamed: named here so a request that asks is a 400, not a surprise.
  stream: z.never({ error: "embeddings are not streamed" }).optional(),
  stream_options: z.never({ error: "embeddings are not streamed" }).optional(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>;

export interface Embedding {
  object: "embedding";
  index: number;
  /** Floats, or base64 of their little-endian float32 bytes when the client asked for base64. */
  embedding: number[] | string;
}

export interface EmbeddingList {
  object: "list";
  data: Embedding[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}
