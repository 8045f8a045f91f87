// The app's Hono types and the one way the edge answers with an error.
import { HTTPException } from "hono/http-exception";
import type { RequestIdVariables } from "hono/request-id";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { RouterConfig } from "../shared/config.ts";
import { openAIError, type OpenAIErrorBody } from "../shared/errors.ts";
import type { Env } from "./env.ts";
import type { InferLog } from "./oplog.ts";

export interface AppEnv {
  Bindings: Env;
  Variables: RequestIdVariables & {
    config: RouterConfig;
    /** Short hash label of the client's key: what the logs say instead of the key. */
    client: string;
    /** The configured client (ROUTER_CONFIG clients) whose key the request carried, if any. */
    clientName?: string;
    log: InferLog;
    /** The message of the error being answered, for the request's terminal log event. */
    errorMessage: string;
  };
}

/** An HTTPException whose response is the OpenAI error shape; app.onError sends it. */
export function apiError(
  status: ContentfulStatusCode,
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
  headers?: Record<string, string>,
): HTTPException {
  return new HTTPException(status, { message, res: errorResponse(status, openAIError(message, type, code, param), headers) });
}

export function errorResponse(status: number, body: OpenAIErrorBody, headers?: Record<string, string>): Response {
  return Response.json(body, { status, headers });
}
