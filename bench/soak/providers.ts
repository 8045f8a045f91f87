// The soak's providers: one real HTTP server on 127.0.0.1 holding several OpenAI-compatible
// providers (/p/<id>/v1/...), each misbehaving at random in its own way (429s, 5xx, hangs, resets,
// cut streams, slow first tokens, a flapping outage). The steps are the fake provider's own
// (test/support/fake-provider.ts plays them); what is bench-owned is the random choice, and the
// record of which soak requests (their `soak-N` marker) each provider actually received.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { play } from "../../test/support/fake-provider.ts";
import { embeddingsAnswer, type Step } from "../../test/support/fake-provider-protocol.ts";

/** One call as the provider sees it. */
export interface Call {
  stream: boolean;
  embeddings: boolean;
  /** Milliseconds since the soak's providers started. */
  at: number;
}

/** A step picked for one call; `undefined` is a plain good answer. */
export type Behaviour = (call: Call, random: () => number) => { name: string; step?: Step };

export interface ProviderRecord {
  calls: number;
  /** Distinct soak requests received (a retry or a continuation of one request counts once). */
  markers: Set<string>;
  /** How many calls got each behaviour. */
  behaviours: Record<string, number>;
}

export interface SoakProviders {
  url: string;
  /** The base_url for provider `id`. */
  baseUrl(id: string): string;
  records: Map<string, ProviderRecord>;
  close(): Promise<void>;
}

/** The soak request a body belongs to (clients put `soak-N` in the prompt or the input). */
export const MARKER = /soak-\d+/;

/** A longer answer than the fake's default, so a stream can be cut half-way (prefill: a continuation streams the rest). */
export const ANSWER = Array.from({ length: 16 }, (_, i) => `word${i + 1}`).join(" ");

async function readBody(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

export async function startSoakProviders(behaviours: Record<string, Behaviour>, random: () => number = Math.random): Promise<SoakProviders> {
  const records = new Map<string, ProviderRecord>(Object.keys(behaviours).map((id) => [id, { calls: 0, markers: new Set(), behaviours: {} }]));
  const sockets = new Set<Socket>();
  const started = Date.now();
  const server = createServer(async (req, res) => {
    const [, kind, id] = new URL(req.url ?? "/", "http://127.0.0.1").pathname.split("/");
    const behave = kind === "p" && id ? behaviours[id] : undefined;
    if (req.method !== "POST" || !behave) return res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"no such soak route"}}');
    const text = await readBody(req);
    const body = JSON.parse(text) as Record<string, unknown>;
    const call: Call = { stream: body.stream === true, embeddings: req.url!.endsWith("/embeddings"), at: Date.now() - started };
    const record = records.get(id!)!;
    record.calls++;
    const marker = MARKER.exec(text)?.[0];
    if (marker) record.markers.add(marker);
    const { name, step } = behave(call, random);
    record.behaviours[name] = (record.behaviours[name] ?? 0) + 1;
    const answer: Step = call.embeddings ? { type: "json", body: embeddingsAnswer(String(body.model), body.input) } : call.stream ? { type: "sse", content: ANSWER, gap_ms: 5, prefill: true } : { type: "json", content: ANSWER };
    await play(step ?? answer, body, id!, req, res);
  });
  server.keepAliveTimeout = 30_000;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    baseUrl: (id) => `${url}/p/${id}/v1`,
    records,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Picks one of `faults` by their shares (0..1 each); the rest of the time a good answer. */
export function faultMix(faults: Array<[share: number, name: string, step: (call: Call) => Step | undefined]>): Behaviour {
  return (call, random) => {
    let roll = random();
    for (const [share, name, step] of faults) {
      const picked = step(call);
      if (!picked) continue; // a fault that does not apply to this kind of call
      if (roll < share) return { name, step: picked };
      roll -= share;
    }
    return { name: "ok" };
  };
}
