// Hono wiring: request id, config, logging, auth, body limit, routes, and one error shape.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import type { MiddlewareHandler } from "hono";
import { openAIError, statusCategory } from "../shared/errors.ts";
import { adminAuth, carriesAdminKey, clientAuth, metricsAuth } from "./auth.ts";
import { chatCompletions, validateChatRequest } from "./chat.ts";
import { loadConfig, routerConfigOf } from "./config.ts";
import { withCors } from "./cors.ts";
import { answerWrongMethods } from "./method-not-allowed.ts";
import { apiError, errorResponse, type AppEnv } from "./http.ts";
import { InferLog } from "./oplog.ts";
import { quotaReport } from "./quota/report.ts";
import { recordLine } from "./usage/recorder.ts";
import { metrics } from "./routes/metrics.ts";
import { usageReport, validateUsageQuery } from "./routes/usage.ts";
import { usageFlush } from "./routes/usage-flush.ts";
import { statusRoutes } from "./routes/status.ts";
import { embeddings, validateEmbeddingRequest } from "./routes/embeddings.ts";
import { listModels, retrieveModel } from "./routes/models.ts";
import { responses, validateResponsesRequest } from "./routes/responses.ts";
import { countTokens, messages, validateCountTokensRequest, validateMessagesRequest } from "./routes/messages.ts";
import { anthropicErrors } from "./anthropic/errors.ts";

/** The API each inference path serves, as the log names it. */
const ENDPOINT_OF: Record<string, InferLog["endpoint"]> = {
  "/v1/chat/completions": "chat",
  "/v1/responses": "responses",
  "/v1/embeddings": "embeddings",
  "/v1/messages": "messages",
};
import { operationLog } from "./routes/logs.ts";
import { providersHealth } from "./routes/providers-health.ts";

/**
 * Loads the router config (ROUTER_CONFIG, else the bundled one; validated once per isolate). An invalid one answers 500 invalid_config: to
 * an admin key with the bad paths, to anyone else without them (they describe the deployment).
 */
const withConfig = createMiddleware<AppEnv>(async (c, next) => {
  const result = loadConfig(routerConfigOf(c.env));
  if (!result.ok) {
    const message = (await carriesAdminKey(c))
      ? result.message
      : "The router's config is invalid: send an admin key (ADMIN_API_KEYS) to see why, or run npm run check-config";
    throw apiError(500, message, "server_error", "invalid_config");
  }
  c.set("config", result.config);
  await next();
});

/**
 * One InferLog per chat request. Whatever the request meets (auth, limits, validation, a thrown
 * error), it leaves with exactly one terminal event: rejections are logged here, the chain walk
 * and the stream relay log the rest.
 */
const withInferLog = createMiddleware<AppEnv>(async (c, next) => {
  const defer = (task: Promise<unknown>) => c.executionCtx.waitUntil(task);
  const log = new InferLog(c.get("requestId"), defer, (line, client) => recordLine(c.env, defer, line, client));
  log.endpoint = ENDPOINT_OF[c.req.path];
  if (log.endpoint === "messages") log.api = "anthropic";
  c.set("log", log);
  await next();
  if (log.isEnded || (c.res.ok && log.isStarted)) return;
  const status = c.res.status;
  log.client = c.get("client");
  log.end("infer_failed", {
    status,
    category: statusCategory(status),
    message: c.get("errorMessage"),
  });
});

const limits = new Map<number, MiddlewareHandler<AppEnv>>();
/** Hono's bodyLimit at the configured size (default 4 MiB): 413 in the OpenAI shape. */
const withBodyLimit = createMiddleware<AppEnv>(async (c, next) => {
  const maxSize = c.get("config").max_body_bytes;
  let limit = limits.get(maxSize);
  if (!limit) {
    limit = bodyLimit({
      maxSize,
      onError: () => {
        throw apiError(413, `Request body is larger than max_body_bytes (${maxSize} bytes): send less, or raise max_body_bytes in the config`, "invalid_request_error", "request_too_large");
      },
    });
    limits.set(maxSize, limit);
  }
  return limit(c, next);
});

export function createApp() {
  const app = new Hono<AppEnv>();
  app.use(requestId());

  app.onError((error, c) => {
    let response: Response;
    if (error instanceof HTTPException) {
      // Ours carry an OpenAI-shaped response; Hono's own (malformed JSON) carry only a status and message.
      response = error.res ?? errorResponse(error.status, openAIError(error.message, "invalid_request_error", null));
    } else {
      console.error(JSON.stringify({ event: "edge_error", message: String(error) }));
      response = errorResponse(500, openAIError("Internal error", "server_error", "internal_error"));
    }
    c.set("errorMessage", error.message);
    return c.newResponse(response.body, response);
  });
  app.notFound((c) =>
    c.json(openAIError("Unknown endpoint: see /v1/chat/completions, /v1/responses, /v1/messages, /v1/embeddings and /v1/models", "invalid_request_error", "unknown_url"), 404),
  );

  app.use("/v1/*", withCors);
  // The Anthropic Messages API (Claude Code, @anthropic-ai/sdk): every answer under /v1/messages
  // (the path itself too), the 404 and 405 included, has its errors in Anthropic's shape.
  app.use("/v1/messages/*", anthropicErrors);

  app.get("/health", withConfig, (c) => {
    const config = c.get("config");
    return c.json({ status: "ok", routes: Object.keys(config.routes), providers: Object.keys(config.providers) });
  });

  app.post("/v1/chat/completions", withInferLog, withConfig, clientAuth, withBodyLimit, validateChatRequest, chatCompletions);

  app.post("/v1/responses", withInferLog, withConfig, clientAuth, withBodyLimit, validateResponsesRequest, responses);
  app.post("/v1/messages", withInferLog, withConfig, clientAuth, withBodyLimit, validateMessagesRequest, messages);
  app.post("/v1/messages/count_tokens", withConfig, clientAuth, withBodyLimit, validateCountTokensRequest, countTokens);
  app.post("/v1/embeddings", withInferLog, withConfig, clientAuth, withBodyLimit, validateEmbeddingRequest, embeddings);

  app.get("/v1/models", withConfig, clientAuth, listModels);
  app.get("/v1/models/:id", withConfig, clientAuth, retrieveModel);

  app.get("/v1/quota", withConfig, adminAuth, quotaReport);
  app.get("/v1/providers/health", withConfig, adminAuth, providersHealth);
  app.get("/v1/usage", withConfig, adminAuth, validateUsageQuery, usageReport);
  app.get("/metrics", withConfig, metricsAuth, metrics);
  app.post("/internal/usage/flush", usageFlush);
  app.route("/status", statusRoutes); // the status page (HTML; its script sends the admin key to /v1/quota)
  app.get("/v1/logs", adminAuth, operationLog);
  answerWrongMethods(app);
  return app;
}
