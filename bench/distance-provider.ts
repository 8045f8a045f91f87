// The distance bench's provider (bench/distance.ts starts it as a child process): answers every
// POST /s/<id>/v1/chat/completions at once and records when each call arrived (Date.now() as its
// headers are read). In a process of its own, so the bench's clients, busy sending a burst, do not
// delay the arrival times it records. GET /_arrivals/<id>: those times, as JSON. Prints its port.
import { createServer } from "node:http";
import { completion } from "../test/support/fake-provider-protocol.ts";

const arrivals = new Map<string, number[]>();
const body = JSON.stringify(completion("bench-model", "Hello!"));

const server = createServer((req, res) => {
  const at = Date.now();
  const url = req.url ?? "";
  const listed = /^\/_arrivals\/([^/]+)$/.exec(url)?.[1];
  if (req.method === "GET" && listed) return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(arrivals.get(listed) ?? []));
  const id = /^\/s\/([^/]+)\/v1\/chat\/completions$/.exec(url)?.[1];
  req.resume();
  req.on("end", () => {
    if (!id || req.method !== "POST") return void res.writeHead(404).end();
    arrivals.set(id, [...(arrivals.get(id) ?? []), at]);
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => console.log(String((server.address() as { port: number }).port)));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
process.on("disconnect", () => process.exit(0));
