// CPU of the anthropic provider's stream translation alone (Messages events → chat chunks), in
// Node: process CPU (user + system) over many 1,000-delta streams, per event. Report only; not part
// of npm test or npm run bench. The comparison row splits the same bytes into frames with the
// relay's own FrameSplitter, the least any stage over a stream does.
//   node bench/anthropic-stream.ts [--streams N]
import { parseArgs } from "node:util";
import { messagesToChatStream } from "../edge/providers/anthropic/stream.ts";
import { FrameSplitter } from "../edge/stream/frames.ts";
import { messageEvents } from "../test/support/fake-anthropic-protocol.ts";

const { values } = parseArgs({ options: { streams: { type: "string", default: "200" } } });
const streams = Number(values.streams);
const encoder = new TextEncoder();
const words = Array.from({ length: 1000 }, (_, i) => `tok${i} `).join("");
// One read per event, as a model streams tokens.
const reads = messageEvents("claude-sonnet-4-5", words.trimEnd()).map((event) => encoder.encode(`event: ${(event as { type: string }).type}\ndata: ${JSON.stringify(event)}\n\n`));

async function run(makeStage: () => TransformStream<Uint8Array, Uint8Array>): Promise<number> {
  const start = process.cpuUsage();
  for (let s = 0; s < streams; s++) {
    const stage = makeStage();
    const writer = stage.writable.getWriter();
    const drained = (async () => {
      const reader = stage.readable.getReader();
      while (!(await reader.read()).done);
    })();
    for (const bytes of reads) await writer.write(bytes);
    await writer.close();
    await drained;
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / streams;
}

const splitOnly = () => {
  const splitter = new FrameSplitter();
  return new TransformStream<Uint8Array, Uint8Array>({ transform: (bytes, controller) => void splitter.push(bytes).forEach((frame) => controller.enqueue(frame)) });
};
await run(() => messagesToChatStream(true)); // warm-up
const translate = await run(() => messagesToChatStream(true));
const split = await run(splitOnly);
console.log(`${streams} streams of ${reads.length} events (1,000 text deltas), process CPU per stream:`);
console.log(`| stage | µs per stream | µs per event |\n| --- | --- | --- |`);
console.log(`| Messages → chat translation | ${translate.toFixed(0)} | ${(translate / reads.length).toFixed(2)} |`);
console.log(`| frame split only (reference) | ${split.toFixed(0)} | ${(split / reads.length).toFixed(2)} |`);
