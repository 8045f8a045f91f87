// Reference Workers for the stream CPU bench (bench/stream-cpu.ts), one per way of relaying an
// upstream stream, chosen by the first path segment: /native/<id>/... hands the upstream body to the
// runtime (`new Response(upstream.body)`); /pump/<id>/... is the smallest JS relay (read each chunk,
// write it on, no parsing); /pipe/<id>/... pipes the body into an IdentityTransformStream.
interface Env {
  UPSTREAM: string;
}

function pump(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

function pipe(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const identity = new IdentityTransformStream();
  body.pipeTo(identity.writable).catch(() => {});
  return identity.readable;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads in batches: one 64 KiB BYOB read after each 50 ms wait takes whatever is queued. */
function batch(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader({ mode: "byob" });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await sleep(50);
      const { done, value } = await reader.read(new Uint8Array(65536));
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** A native tee: the client's branch piped natively, the other read by JS every 50 ms until it ends. */
function tee(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const [client, tap] = body.tee();
  const identity = new IdentityTransformStream();
  const piped = client.pipeTo(identity.writable, { preventClose: true });
  void (async () => {
    const reader = tap.getReader({ mode: "byob" });
    let bytes = 0;
    for (;;) {
      await sleep(50);
      const { done, value } = await reader.read(new Uint8Array(65536));
      if (done) break;
      bytes += value.length;
    }
    await piped.catch(() => {});
    const writer = identity.writable.getWriter();
    await writer.close();
    return bytes;
  })();
  return identity.readable;
}

const RELAYS: Record<string, (body: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>> = { native: (body) => body, pump, pipe, batch, tee };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const [, mode = "", ...rest] = new URL(request.url).pathname.split("/");
    const relay = RELAYS[mode];
    if (!relay) return new Response("unknown mode", { status: 404 });
    const upstream = await fetch(`${env.UPSTREAM}/${rest.join("/")}`, request);
    return new Response(upstream.body && relay(upstream.body), { status: upstream.status, headers: upstream.headers });
  },
};
