// The sidecar's HTTP API on Hono: request id, bearer auth, body limit, one OpenAI error shape,
// and the three routes. Every infer_started gets exactly one terminal event.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requestId, type RequestIdVariables } from "hono/request-id";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";
import { timingSafeEqual } from "hono/utils/buffer";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { validator } from "hono/validator";
import { openAIBearerAuth } from "../shared/bearer.ts";
import { openAIError, statusCategory, zodToOpenAIError } from "../shared/errors.ts";
import { toBase64 } from "../shared/embedding-vectors.ts";
import { EmbeddingRequestSchema, type EmbeddingList, type EmbeddingRequest } from "../shared/embeddings.ts";
import { ChatCompletionRequestSchema, type ChatCompletionRequest, type ModelList } from "../shared/openai.ts";
import { CompletionShape } from "./completions.ts";
import type { Embedder } from "./embeddings.ts";
import { CancelledError, JsonAnswerError, type Engine, type GenerationResult, type PreparedGeneration } from "./engine.ts";
import { ApiError, serverError } from "./errors.ts";
import type { InferEventFields, OpLog } from "./oplog.ts";
import { toGenerationPlan } from "./request.ts";
import { QueueFullError } from "./slots.ts";

export interface AppOptions {
  engine: Engine;
  /** Serves /v1/embeddings when the sidecar was started with --embedding-model. */
  embedder?: Embedder;
  log: OpLog;
  /** The current bearer token (re-read on rotation); undefined only with --insecure-no-auth. */
  token?: () => string | null;
  bodyLimitBytes?: number;
  /** Seconds a client should wait after a 503 for a full queue. */
  retryAfterSeconds?: number;
  /** True once SIGTERM arrived: new requests get 503 and every answer closes its connection. */
  draining?: () => boolean;
}

type Env = { Variables: RequestIdVariables };

/** Maps what generation can throw to the response the client gets. */
function toApiError(error: unknown, retryAfterSeconds: number): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof QueueFullError)
    return new ApiError(503, openAIError(`${error.message}; retry later`, "server_error", "queue_full"), {
      "retry-after": String(retryAfterSeconds),
    });
  if (error instanceof CancelledError) return new ApiError(503, openAIError(error.message, "server_error", "cancelled"));
  if (error instanceof JsonAnswerError) return serverError(error.message, "server_error", "invalid_model_output");
  return serverError(`generation failed: ${error instanceof Error ? error.message : String(error)}`);
}

type Common = Pick<InferEventFields, "request_id" | "route" | "model" | "stream" | "endpoint">;

/** One request's log lines: infer_started now, then exactly one terminal event (with `extra()`, read when it is written). */
function requestLog(log: OpLog, common: Common, retryAfterSeconds: number, extra: () => Partial<InferEventFields> = () => ({})) {
  const startedAt = performance.now();
  log.event({ ...common, event: "infer_started" });
  let terminated = false;
  const terminal = (fields: Omit<InferEventFields, keyof Common>) => {
    if (terminated) return;
    terminated = true;
    log.event({ ...common, latency_ms: Math.round(performance.now() - startedAt), ...extra(), ...fields });
  };
  /** Logs what went wrong and gives the error to answer with. */
  const failed = (error: unknown): ApiError => {
    const apiError = toApiError(error, retryAfterSeconds);
    if (error instanceof CancelledError) terminal({ event: "infer_cancelled", reason: error.by, status: apiError.status });
    else
      terminal({
        event: "infer_failed",
        status: apiError.status,
        category: statusCategory(apiError.status),
        reason: apiError.body.error.code ?? undefined,
        message: apiError.body.error.message,
      });
    return apiError;
  };
  return { startedAt, terminal, failed };
}

export function createApp(options: AppOptions): Hono<Env> {
  const { engine, log } = options;
  const retryAfterSeconds = options.retryAfterSeconds ?? 1;
  const app = new Hono<Env>();

  app.use(requestId());
  if (options.draining) {
    const draining = options.draining;
    app.use(async (c, next) => {
      if (draining()) {
        return c.json(openAIError("The sidecar is shutting down; retry", "server_error", "shutting_down"), 503, { "retry-after": String(retryAfterSeconds), connection: "close" });
      }
      await next();
      if (draining()) c.res.headers.set("connection", "close");
    });
  }
  if (options.token) {
    const current = options.token;
    app.use(
      openAIBearerAuth<Env>(
        async (token) => {
          const expected = current();
          return expected !== null && (await timingSafeEqual(token, expected));
        },
        {
          missing: "Missing bearer token: send Authorization: Bearer <sidecar token>",
          malformed: "Malformed Authorization header: expected Bearer <sidecar token>",
          invalid: "Invalid bearer token",
        },
      ),
    );
  }
  app.use(
    bodyLimit({
      maxSize: options.bodyLimitBytes ?? 4 * 1024 * 1024,
      onError: () => {
        throw new ApiError(413, openAIError("Request body too large", "invalid_request_error", "request_too_large"));
      },
    }),
  );

  app.get("/health", (c) => c.json({ status: "ok", ...engine.health() }));

  app.get("/v1/models", (c) =>
    c.json<ModelList>({
      object: "list",
      data: [{ id: engine.modelId, object: "model", created: 0, owned_by: "inferrouter-sidecar" }],
    }),
  );

  const validateRequest = validator("json", (value): ChatCompletionRequest => {
    const parsed = ChatCompletionRequestSchema.safeParse(value);
    if (!parsed.success) throw new ApiError(400, zodToOpenAIError(parsed.error));
    return parsed.data;
  });

  app.post("/v1/chat/completions", validateRequest, async (c) => {
    const request = c.req.valid("json");
    const stream = request.stream === true;
    let ttftMs: number | undefined;
    const common = { request_id: c.get("requestId"), route: request.model, model: engine.modelId, stream, endpoint: "chat" as const };
    const { startedAt, terminal, failed } = requestLog(log, common, retryAfterSeconds, () => ({ ttft_ms: ttftMs }));
    let generationStartedAt = startedAt;
    const completed = (result: GenerationResult) => {
      const seconds = (performance.now() - generationStartedAt) / 1000;
      terminal({
        event: "infer_completed",
        status: 200,
        finish_reason: result.finishReason,
        ...result.usage,
        tokens_per_second: seconds > 0 ? Math.round((result.usage.completion_tokens / seconds) * 10) / 10 : undefined,
      });
    };

    // Everything that can refuse the request happens before the first byte, so it is a plain
    // non-2xx answer the edge can fail over on: bad parameters, a full queue.
    const signal = c.req.raw.signal;
    let prepared: PreparedGeneration;
    let lease: Awaited<ReturnType<Engine["acquire"]>>;
    try {
      prepared = await engine.prepare(toGenerationPlan(request));
      lease = await engine.acquire(signal);
    } catch (error) {
      throw failed(error);
    }
    generationStartedAt = performance.now();
    const shape = new CompletionShape(engine.modelId, stream && request.stream_options?.include_usage === true);
    const firstOutput = () => (ttftMs ??= Math.round(performance.now() - startedAt));

    if (!stream) {
      try {
        const result = await engine.generate(lease, prepared, signal);
        completed(result);
        return c.json(shape.completion(result));
      } catch (error) {
        throw failed(error);
      }
    }

    return streamSSE(c, async (sse: SSEStreamingApi) => {
      const aborted = new AbortController();
      sse.onAbort(() => aborted.abort());
      // Engine callbacks are synchronous; chain the writes so chunks keep their order.
      let writes = Promise.resolve();
      const send = (value: unknown) => {
        writes = writes.then(() => sse.writeSSE({ data: typeof value === "string" ? value : JSON.stringify(value) }));
      };
      send(shape.roleChunk());
      try {
        const result = await engine.generate(lease, prepared, AbortSignal.any([signal, aborted.signal]), {
          onText: (text) => {
            if (text === "") return;
            firstOutput();
            send(shape.delta({ content: text }));
          },
          onToolCallStart: ({ index, id, name }) => {
            firstOutput();
            send(shape.toolCallDelta({ index, id, type: "function", function: { name, arguments: "" } }));
          },
          onToolCallArguments: ({ index, delta }) => send(shape.toolCallDelta({ index, function: { arguments: delta } })),
        });
        send(shape.delta({}, result.finishReason));
        const usage = shape.usageChunk(result.usage);
        if (usage) send(usage);
        send("[DONE]");
        await writes;
        completed(result);
      } catch (error) {
        const apiError = failed(error);
        // After the first byte an error can only be an error event in the stream.
        if (!(error instanceof CancelledError && error.by === "client")) send(apiError.body);
        await writes.catch(() => undefined);
      }
    });
  });

  const validateEmbeddings = validator("json", (value): EmbeddingRequest => {
    const parsed = EmbeddingRequestSchema.safeParse(value);
    if (!parsed.success) throw new ApiError(400, zodToOpenAIError(parsed.error));
    return parsed.data;
  });

  app.post("/v1/embeddings", validateEmbeddings, async (c) => {
    const embedder = options.embedder;
    if (!embedder) {
      throw new ApiError(404, openAIError("This sidecar serves no embeddings: start it with --embedding-model PATH", "not_found_error", "embeddings_not_served"));
    }
    const request = c.req.valid("json");
    const { terminal, failed } = requestLog(log, { request_id: c.get("requestId"), route: request.model, model: embedder.modelId, stream: false, endpoint: "embeddings" }, retryAfterSeconds);
    try {
      const { vectors, promptTokens } = await embedder.embed(request, c.req.raw.signal);
      const usage = { prompt_tokens: promptTokens, total_tokens: promptTokens };
      terminal({ event: "infer_completed", status: 200, ...usage });
      const base64 = request.encoding_format === "base64";
      return c.json<EmbeddingList>({
        object: "list",
        data: vectors.map((vector, index) => ({ object: "embedding", index, embedding: base64 ? toBase64(vector) : vector })),
        model: embedder.modelId,
        usage,
      });
    } catch (error) {
      throw failed(error);
    }
  });

  app.notFound((c) => c.json(openAIError(`No route ${c.req.method} ${c.req.path}`, "not_found_error", "not_found"), 404));

  app.onError((error, c) => {
    // Through the context, so x-request-id set by the middleware comes along.
    const send = (response: Response) => c.newResponse(response.body, response);
    if (error instanceof ApiError) return send(error.getResponse());
    if (error instanceof HTTPException) {
      // Hono's own refusals (bearer auth, malformed JSON): keep status and headers, use our shape.
      const response = error.getResponse();
      if (response.headers.get("content-type")?.includes("application/json")) return send(response);
      const status = error.status as ContentfulStatusCode;
      const type = status === 401 ? "authentication_error" : status < 500 ? "invalid_request_error" : "server_error";
      const headers = Object.fromEntries([...response.headers].filter(([name]) => !/^content-(type|length)$/i.test(name)));
      return c.json(openAIError(error.message || response.statusText, type), status, headers);
    }
    log.info("unhandled error", { request_id: c.get("requestId"), error: error instanceof Error ? error.message : String(error) });
    return c.json(openAIError("Internal server error", "server_error"), 500);
  });

  return app;
}
