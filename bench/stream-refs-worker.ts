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

const RELAYS: Record<string, (body: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>> = { native: (body) => body, pump, pipe };

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const [, mode = "", ...rest] = new URL(request.url).pathname.split("/");
    const relay = RELAYS[mode];
    if (!relay) return new Response("unknown mode", { status: 404 });
    const upstream = await fetch(`${env.UPSTREAM}/${rest.join("/")}`, request);
    return new Response(upstream.body && relay(upstream.body), { status: upstream.status, headers: upstream.headers });
  },
};
