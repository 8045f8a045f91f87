// The soak's clients: closed-loop workers sending a mix of JSON chats, streamed chats, embeddings
// and streams the client abandons half-way, with the unlimited key or a metered client's key.
// Each request ends in one outcome that says what the client saw, judged strictly: a 200 counts
// as answered only when the answer is whole; anything else is a failure of a named kind.
import { createParser } from "eventsource-parser";
import { KEYS } from "./setup.ts";

export type RequestKind = "json" | "stream" | "embeddings" | "disconnect";

export type Result =
  /** A whole answer. */
  | "answered"
  /** An honest failure: an OpenAI-shaped error, a stream's error event, a connection cut by a kill. */
  | "failed"
  /** The client went away on purpose. */
  | "disconnected"
  /** A 200 that was not a whole answer (a stream without [DONE] and without an error): never allowed. */
  | "fake_success"
  /** A 500, or a 5xx that is not an OpenAI error: the proxy's own failure, never allowed. */
  | "proxy_5xx"
  /** An error answer that is not OpenAI-shaped, or a connection error outside a kill: never allowed. */
  | "malformed"
  /** No end within the client's own time limit. */
  | "hung";

export interface Outcome {
  marker: string;
  kind: RequestKind;
  metered: boolean;
  result: Result;
  /** The failure's kind for the report ("429 all_providers_rate_limited", "stream error server_error", ...). */
  detail: string;
  status: number;
  requestId?: string;
  startedAt: number;
  endedAt: number;
  /** A connection error: judged against the kill windows afterwards (see soak.ts). */
  network?: boolean;
}

const CLIENT_TIMEOUT_MS = 30_000;

interface OpenAIError {
  error: { message: unknown; type: unknown; param: unknown; code: unknown };
}

function isOpenAIError(value: unknown): value is OpenAIError {
  const error = (value as Partial<OpenAIError> | null)?.error;
  return typeof error === "object" && error !== null && ["message", "type", "param", "code"].every((key) => key in error) && typeof error.message === "string";
}

function body(kind: RequestKind, marker: string) {
  if (kind === "embeddings") return { model: "embed", input: [`${marker} first`, `${marker} second`] };
  const stream = kind !== "json";
  return {
    model: "chat",
    stream,
    ...(stream && Math.random() < 0.5 && { stream_options: { include_usage: true } }),
    messages: [{ role: "user", content: `${marker}: say sixteen words` }],
  };
}

/** Reads a stream to its end: answered when it ends with [DONE] after content and no error event. */
async function readStream(response: Response, kind: RequestKind): Promise<Pick<Outcome, "result" | "detail">> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let done = false;
  let content = "";
  let error: OpenAIError["error"] | undefined;
  let contentEvents = 0;
  const parser = createParser({
    onEvent(event) {
      if (event.data === "[DONE]") return void (done = true);
      const chunk = JSON.parse(event.data) as { error?: OpenAIError["error"]; choices?: Array<{ delta?: { content?: string } }> };
      if (chunk.error) error = chunk.error;
      const delta = chunk.choices?.[0]?.delta?.content;
      if (delta) {
        content += delta;
        contentEvents++;
      }
    },
  });
  for (;;) {
    const part = await reader.read();
    if (part.done) break;
    parser.feed(part.value);
    if (kind === "disconnect" && contentEvents >= 2) {
      await reader.cancel();
      return { result: "disconnected", detail: "client disconnected mid-stream" };
    }
  }
  if (error) return { result: "failed", detail: `stream error ${String(error.code ?? error.type)}` };
  if (done && content) return { result: "answered", detail: "" };
  return { result: "fake_success", detail: `200 stream ended without [DONE] or an error (${content.length} chars)` };
}

async function readJson(response: Response, kind: RequestKind): Promise<Pick<Outcome, "result" | "detail">> {
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (response.ok) {
    const answer = parsed as { choices?: Array<{ message?: { content?: string } }>; data?: unknown[] } | undefined;
    const whole = kind === "embeddings" ? (answer?.data?.length ?? 0) === 2 : Boolean(answer?.choices?.[0]?.message?.content);
    return whole ? { result: "answered", detail: "" } : { result: "fake_success", detail: `200 without an answer: ${text.slice(0, 120)}` };
  }
  if (!isOpenAIError(parsed)) return { result: response.status >= 500 ? "proxy_5xx" : "malformed", detail: `${response.status} not OpenAI-shaped: ${text.slice(0, 120)}` };
  const result = response.status === 500 ? "proxy_5xx" : "failed";
  return { result, detail: `${response.status} ${String(parsed.error.code ?? parsed.error.type)}` };
}

/** The network error's own code (ECONNRESET, ECONNREFUSED, UND_ERR_SOCKET, ...), from the cause chain. */
function networkCode(error: unknown): string {
  for (let e = error as { code?: string; cause?: unknown; name?: string } | undefined; e; e = e.cause as typeof e) {
    if (e.code) return e.code;
    if (e.name === "TimeoutError") return "TimeoutError";
  }
  return String((error as Error)?.message ?? error);
}

export async function send(url: string, marker: string, kind: RequestKind, metered: boolean): Promise<Outcome> {
  const startedAt = Date.now();
  const base = { marker, kind, metered, startedAt };
  let status = 0;
  let requestId: string | undefined;
  try {
    const response = await fetch(`${url}/v1/${kind === "embeddings" ? "embeddings" : "chat/completions"}`, {
      method: "POST",
      headers: { authorization: `Bearer ${metered ? KEYS.metered : KEYS.client}`, "content-type": "application/json" },
      body: JSON.stringify(body(kind, marker)),
      signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
    });
    status = response.status;
    requestId = response.headers.get("x-request-id") ?? undefined;
    const read = response.ok && kind !== "json" && kind !== "embeddings" ? await readStream(response, kind) : await readJson(response, kind);
    return { ...base, ...read, status, requestId, endedAt: Date.now() };
  } catch (error) {
    const code = networkCode(error);
    if (code === "TimeoutError") return { ...base, result: "hung", detail: `no end within ${CLIENT_TIMEOUT_MS} ms`, status, requestId, endedAt: Date.now() };
    return { ...base, result: "failed", network: true, detail: `connection error ${code}`, status, requestId, endedAt: Date.now() };
  }
}

/** The mix: 35 % JSON, 35 % streams, 15 % embeddings, 15 % streams abandoned; a quarter metered. */
function pick(random: () => number): { kind: RequestKind; metered: boolean } {
  const roll = random();
  const kind: RequestKind = roll < 0.35 ? "json" : roll < 0.7 ? "stream" : roll < 0.85 ? "embeddings" : "disconnect";
  return { kind, metered: random() < 0.25 };
}

/** `concurrency` closed-loop workers until `running()` turns false; every outcome goes to `onOutcome`. */
export async function runClients(options: { url: () => string; concurrency: number; running: () => boolean; onOutcome: (outcome: Outcome) => void; random?: () => number }) {
  const random = options.random ?? Math.random;
  let next = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (options.running()) {
        const { kind, metered } = pick(random);
        options.onOutcome(await send(options.url(), `soak-${next++}`, kind, metered));
      }
    }),
  );
}
