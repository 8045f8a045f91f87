// The sidecar's one error type: an HTTPException whose response already has the OpenAI error shape,
// so app.onError can return it as is.
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { openAIError, type OpenAIErrorBody, type OpenAIErrorType } from "../shared/errors.ts";

export class ApiError extends HTTPException {
  readonly body: OpenAIErrorBody;

  constructor(status: ContentfulStatusCode, body: OpenAIErrorBody, headers?: Record<string, string>) {
    super(status, { message: body.error.message, res: Response.json(body, { status, headers }) });
    this.body = body;
  }
}

export const badRequest = (message: string, param: string | null, code = "invalid_value") =>
  new ApiError(400, openAIError(message, "invalid_request_error", code, param));

export const unsupported = (message: string, param: string) => badRequest(message, param, "unsupported_parameter");

export const serverError = (message: string, type: OpenAIErrorType = "server_error", code: string | null = null) =>
  new ApiError(500, openAIError(message, type, code));
