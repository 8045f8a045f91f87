// What a provider's 200 JSON answer must hold to count as a success, per endpoint. A malformed
// answer is a provider fault (ServerError: the walk fails over and logs it), never a success that
// the translation back to the client then turns into a 500 or an answer without a vector.
// Only what the edge and its clients read is checked; everything else passes through as it came.
import * as z from "zod";
// Named, not z.core.toDotPath: a reference to the core namespace keeps every zod locale in the bundle.
import { toDotPath } from "zod/v4/core";
import type { Endpoint } from "../../shared/config.ts";

const ToolCall = z.looseObject({ function: z.looseObject({ name: z.string(), arguments: z.string() }) });

const ChatAnswer = z.looseObject({
  choices: z
    .array(
      z.looseObject({
        message: z.looseObject({
          content: z.string().nullable().optional(),
          tool_calls: z.array(ToolCall).nullable().optional(),
        }),
      }),
    )
    .min(1),
});

// Floats, as upstream is asked for; base64 float32 (OpenAI's other encoding) from a provider that ignores the ask.
const Vector = z.union([z.array(z.number()), z.base64()], { error: "embedding must be an array of numbers (or their base64 float32 bytes)" });

const EmbeddingsAnswer = z.looseObject({
  data: z.array(z.looseObject({ index: z.number().int().optional(), embedding: Vector })).min(1),
});

const ANSWERS: Record<Endpoint, z.ZodType> = { chat: ChatAnswer, embeddings: EmbeddingsAnswer };

/** Why `body` is not a well-formed answer for `endpoint`, or undefined when it is. */
export function answerProblem(endpoint: Endpoint, body: unknown): string | undefined {
  const parsed = ANSWERS[endpoint].safeParse(body);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  return `upstream answer is malformed: ${toDotPath(issue.path) || "body"}: ${issue.message}`;
}
