// Every error a request under /v1/messages gets, in Anthropic's shape: the edge answers errors in
// the OpenAI shape everywhere (auth, limits, validation, the walk, the app's 404 and 405), and this
// middleware (app.ts mounts it on the whole path) rewrites the body on the way out, keeping the
// status and headers (retry-after, x-request-id, allow). The SDKs read the request id from
// `request-id`, so it is sent under that name too.
import { createMiddleware } from "hono/factory";
import { anthropicError, anthropicErrorType } from "../../shared/anthropic.ts";
import type { AppEnv } from "../http.ts";

export const anthropicErrors = createMiddleware<AppEnv>(async (c, next) => {
  c.header("request-id", c.get("requestId"));
  await next();
  if (c.res.ok) return;
  let message = c.res.statusText || `HTTP ${c.res.status}`;
  try {
    const body = (await c.res.clone().json()) as { error?: { message?: unknown } };
    if (typeof body.error?.message === "string") message = body.error.message;
  } catch {
    // Not JSON (a platform error page): the status says what there is to say.
  }
  const headers = new Headers(c.res.headers);
  headers.delete("content-length");
  headers.set("content-type", "application/json");
  const status = c.res.status;
  c.res = undefined;
  c.res = new Response(JSON.stringify(anthropicError(anthropicErrorType(status), message)), { status, headers });
});
