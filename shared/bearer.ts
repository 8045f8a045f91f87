// Bearer auth as both servers answer it: Hono's bearerAuth, with every refusal a 401 in the OpenAI
// shape (`invalid_api_key`), including a malformed header, which Hono alone would answer 400.
import type { Context, Env, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { openAIError } from "./errors.ts";

export interface BearerMessages {
  missing: string;
  malformed: string;
  invalid: string;
}

/** Where the key is read: `Authorization: Bearer <key>` (default), or a header holding the bare key (x-api-key). */
export interface KeyHeader {
  headerName: string;
  prefix: string;
}

export function openAIBearerAuth<E extends Env>(
  verifyToken: (token: string, c: Context<E>) => Promise<boolean>,
  messages: BearerMessages,
  header?: KeyHeader,
): MiddlewareHandler<E> {
  const refuse = (message: string) => () =>
    Response.json(openAIError(message, "invalid_request_error", "invalid_api_key"), { status: 401 });
  return bearerAuth<E>({
    ...header,
    verifyToken,
    noAuthenticationHeader: { message: refuse(messages.missing) },
    invalidAuthenticationHeader: { message: refuse(messages.malformed) },
    invalidToken: { message: refuse(messages.invalid) },
  });
}
