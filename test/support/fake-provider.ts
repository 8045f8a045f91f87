// A scriptable OpenAI-compatible provider: a real HTTP server on 127.0.0.1. Each test scripts its
// own scenario (POST /_script/<id>) and points a provider at /s/<id>/v1; every call to
// /s/<id>/v1/chat/completions (or /embeddings) takes the next step and is recorded (GET /_calls/<id>).
// /s/<id>/v1/messages speaks Anthropic's Messages wire instead (fake-anthropic-protocol.ts): its
// default answers are messages, and its stream events are framed `event: <type>` and end without [DONE].
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { message, messageEvents } from "./fake-anthropic-protocol.ts";
import { chunks, completion, embeddingsAnswer, type RecordedCall, type Script, type Step } from "./fake-provider-protocol.ts";

export type { RecordedCall, Script, Step };

export interface FakeProvider {
  url: string;
  closedPort: number;
  close(): Promise<void>;
}

/** An openai_compatible provider config pointing at scenario `id` of a fake provider (for benchmarks under wrangler dev). */
export function fakeProviderConfig(fake: FakeProvider, id: string, extra: Record<string, unknown> = {}) {
  return { type: "openai_compatible", base_url: `${fake.url}/s/${id}/v1`, model: "bench-model", api_key_secret: "BENCH_KEY", ...extra };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

export async function startFakeProvider(): Promise<FakeProvider> {
  const scripts = new Map<string, Script>();
  const calls = new Map<string, RecordedCall[]>();
  const sockets = new Set<Socket>();
  /** Long polls waiting for a scenario to reach a number of calls. */
  const waiters = new Set<() => void>();

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const [, kind, id] = url.pathname.split("/");
    if (req.method === "POST" && kind === "_script" && id) {
      scripts.set(id, JSON.parse(await readBody(req)) as Script);
      calls.set(id, []);
      return res.writeHead(204).end();
    }
    if (req.method === "GET" && kind === "_wait" && id) {
      // Answers once the scenario has received `calls` calls (or after `timeout_ms`): tests wait on
      // this instead of polling.
      const want = Number(url.searchParams.get("calls") ?? 1);
      const check = () => {
        if ((calls.get(id)?.length ?? 0) < want) return false;
        waiters.delete(check);
        clearTimeout(timer);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(calls.get(id)));
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        res.writeHead(408).end();
      }, Number(url.searchParams.get("timeout_ms") ?? 10_000));
      if (!check()) waiters.add(check);
      return;
    }
    if (req.method === "GET" && kind === "_calls" && id) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(calls.get(id) ?? []));
    }
    const embeddings = url.pathname.endsWith("/embeddings");
    // Chat completions, embeddings, and the probes' GET .../models and GET .../health: each takes the next step.
    const probe = req.method === "GET" && /\/(models|health)$/.test(url.pathname);
    if (kind === "s" && id && ((req.method === "POST" && (url.pathname.endsWith("/chat/completions") || url.pathname.endsWith("/messages") || embeddings)) || probe)) {
      const body = probe ? {} : (JSON.parse(await readBody(req)) as Record<string, unknown>);
      const recorded = calls.get(id) ?? [];
      calls.set(id, recorded);
      const call: RecordedCall = { headers: req.headers, body, abandoned: false, method: req.method ?? "", path: url.pathname };
      recorded.push(call);
      res.on("close", () => {
        if (!res.writableFinished) call.abandoned = true;
      });
      for (const waiter of [...waiters]) waiter();
      const script = scripts.get(id) ?? { steps: [] };
      const step = script.steps[recorded.length - 1] ??
        (script.after === "success" || !script.steps.length ? undefined : script.steps.at(-1));
      if (probe && !step) return res.writeHead(200, { "content-type": "application/json" }).end('{"object":"list","data":[]}');
      // An embeddings call without a step of its own gets vectors for its input.
      const fallback: Step | undefined = embeddings ? { type: "json", body: embeddingsAnswer(String(body.model), body.input, body.dimensions as number | undefined) } : undefined;
      return play(step ?? fallback, body, id, req, res);
    }
    res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"no such fake route"}}');
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  // A port nothing listens on: connection refused.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  return {
    url: `http://127.0.0.1:${port}`,
    closedPort,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers one call as `step` says (a default answer when undefined); bench/soak's providers pick steps at random. */
export async function play(step: Step | undefined, body: Record<string, unknown>, id: string, req: IncomingMessage, res: ServerResponse) {
  const model = String(body.model);
  const stream = body.stream === true;
  const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const defaultContent = `Hello from ${id}`;
  const messages = req.url?.endsWith("/messages") === true;
  if (!step) step = stream ? { type: "sse" } : { type: "json" };
  switch (step.type) {
    case "json": {
      if (step.delay_ms) await new Promise((resolve) => setTimeout(resolve, step.delay_ms));
      if (res.destroyed) return;
      res.writeHead(step.status ?? 200, { "content-type": "application/json", ...step.headers });
      const answer = messages ? message(model, step.content ?? defaultContent) : completion(model, step.content ?? defaultContent);
      return res.end(JSON.stringify(step.body ?? answer));
    }
    case "raw":
      res.writeHead(step.status, step.headers);
      return res.end(step.body);
    case "hang":
      return; // never answers; the socket is destroyed when the client gives up or the server closes
    case "reset":
      return req.socket.destroy();
    case "reset_mid_body": {
      const text = JSON.stringify(completion(model, defaultContent));
      res.writeHead(200, { "content-type": "application/json", "content-length": String(text.length) });
      res.write(text.slice(0, text.length >> 1));
      return setImmediate(() => req.socket.destroy());
    }
    case "sse":
      return playStream(step, body, model, step.content ?? defaultContent, includeUsage, req, res, messages);
  }
}

/** What follows a trailing assistant message's text in `content`: how a prefill provider continues it. */
function continuationOf(content: string, body: Record<string, unknown>): string {
  const last = (body.messages as Array<{ role?: string; content?: unknown }> | undefined)?.at(-1);
  // A Messages turn holds blocks: its text is their text.
  const text = Array.isArray(last?.content) ? last.content.map((block: { text?: string }) => block.text ?? "").join("") : last?.content;
  if (last?.role !== "assistant" || typeof text !== "string") return content;
  return content.startsWith(text) ? content.slice(text.length) : content;
}

async function playStream(
  step: Extract<Step, { type: "sse" }>,
  body: Record<string, unknown>,
  model: string,
  content: string,
  includeUsage: boolean,
  req: IncomingMessage,
  res: ServerResponse,
  messages = false,
) {
  res.writeHead(step.status ?? 200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...step.headers });
  if (step.prelude) res.write(step.prelude);
  if (step.prefill) content = continuationOf(content, body);
  const defaults = messages ? messageEvents(model, content) : chunks(model, content, includeUsage, step.chunk_id);
  const events = (step.events ?? defaults).slice(0, step.cut_after);
  if (step.first_delay_ms) await new Promise((resolve) => setTimeout(resolve, step.first_delay_ms));
  for (const event of events) {
    if (res.destroyed) return;
    // Messages events name their type on an `event:` line, as Anthropic's do.
    const name = messages && typeof event === "object" && event !== null ? `event: ${(event as { type?: string }).type}\n` : "";
    res.write(`${name}data: ${typeof event === "string" ? event : JSON.stringify(event)}\n\n`);
    if (step.gap_ms) await new Promise((resolve) => setTimeout(resolve, step.gap_ms));
  }
  switch (step.end ?? (messages ? "close" : "done")) {
    case "done":
      return res.end("data: [DONE]\n\n");
    case "close":
      return res.end();
    case "reset":
      return setImmediate(() => req.socket.destroy());
    case "hang":
      return;
  }
}
