// A Messages JSON answer as the attempt reads it: the chat completion it translates to, or the
// status an error body inside a 200 stands for (Anthropic's error types have no numeric code).
import type { AnthropicErrorType, AnthropicMessage } from "../../../shared/anthropic.ts";
import { fromMessage } from "./response.ts";
import { dropCut, ERROR_STATUS } from "./stream.ts";

export type MessagesAnswer = { ok: true; completion: NonNullable<ReturnType<typeof fromMessage>> } | { ok: false; status: number } | { ok: false; why: string };

export function readMessagesAnswer(body: { type?: unknown; error?: { type?: unknown } }, trimmedPrefill = ""): MessagesAnswer {
  if (body.type === "error" || body.error) return { ok: false, status: ERROR_STATUS[body.error?.type as AnthropicErrorType] ?? 502 };
  const completion = fromMessage(body as AnthropicMessage);
  const message = completion?.choices[0]!.message;
  if (trimmedPrefill && message?.content) message.content = dropCut(message.content, trimmedPrefill);
  return completion ? { ok: true, completion } : { ok: false, why: 'upstream answer is malformed: not a Messages answer (type "message" with content blocks)' };
}
