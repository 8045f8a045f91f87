// SSE framing (edge/stream/frames.ts): whole frames out of any chunking, LF, CRLF and CR line
// ends, terminators split across chunks, and the size limit; the native tap's batch scan.
import { describe, expect, it } from "vitest";
import { BatchScanner } from "../../edge/stream/batch-scan.ts";
import { concatFrames, FrameSplitter, FrameTooLarge, MAX_FRAME_BYTES } from "../../edge/stream/frames.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Pushes `text` cut at the given offsets; returns every frame as text and the splitter. */
function split(text: string, cuts: number[] = []) {
  const splitter = new FrameSplitter();
  const bytes = encoder.encode(text);
  const bounds = [0, ...cuts, bytes.length];
  const frames: string[] = [];
  for (let i = 0; i < bounds.length - 1; i++) {
    for (const frame of splitter.push(bytes.slice(bounds[i], bounds[i + 1]))) frames.push(decoder.decode(frame));
  }
  return { frames, splitter };
}

/** Every way to cut `text` in two. */
function everyCut(text: string): number[][] {
  return Array.from({ length: encoder.encode(text).length - 1 }, (_, i) => [i + 1]);
}

describe("FrameSplitter", () => {
  it.each([
    ["LF", "data: a\n\ndata: b\n\n"],
    ["CRLF", "data: a\r\n\r\ndata: b\r\n\r\n"],
    ["mixed CRLF and LF", "data: a\r\n\ndata: b\n\r\n"],
    ["multi-line frames", "event: x\ndata: a\ndata: a2\n\ndata: b\n\n"],
  ])("cuts %s frames the same however the bytes are chunked", (_name, text) => {
    const whole = split(text).frames;
    expect(whole).toHaveLength(2);
    expect(whole.join("")).toBe(text);
    for (const cuts of everyCut(text)) expect(split(text, cuts).frames).toEqual(whole);
    // One byte at a time.
    expect(split(text, Array.from({ length: text.length - 1 }, (_, i) => i + 1)).frames).toEqual(whole);
  });

  it("cuts CR-only frames, holding a final CR until it knows no LF follows", () => {
    const text = "data: a\r\rdata: b\r\r";
    const { frames, splitter } = split(text);
    expect(frames).toEqual(["data: a\r\r"]);
    expect(decoder.decode(splitter.end())).toBe("data: b\r\r");
    for (const cuts of everyCut(text)) {
      const cut = split(text, cuts);
      expect([...cut.frames, decoder.decode(cut.splitter.end())]).toEqual(["data: a\r\r", "data: b\r\r"]);
    }
  });

  it("keeps an unfinished tail for the next chunk and drops it at the end (the SSE spec does)", () => {
    const { frames, splitter } = split("data: a\n\ndata: unfinished");
    expect(frames).toEqual(["data: a\n\n"]);
    expect(splitter.end()).toBeUndefined();
    expect(split("data: b\n\n", []).splitter.end()).toBeUndefined();
  });

  it("says when a chunk was exactly whole frames (so it can be forwarded as it is)", () => {
    const splitter = new FrameSplitter();
    splitter.push(encoder.encode("data: a\n\n"));
    expect(splitter.aligned).toBe(true);
    splitter.push(encoder.encode("data: b\n"));
    expect(splitter.aligned).toBe(false);
    splitter.push(encoder.encode("\n"));
    expect(splitter.aligned).toBe(false); // whole now, but made of two chunks
  });

  it("refuses a frame over MAX_FRAME_BYTES without its blank line, however it arrives", () => {
    const splitter = new FrameSplitter();
    const piece = encoder.encode(`data: ${"x".repeat(64 * 1024)}`);
    expect(() => {
      for (let sent = 0; sent <= MAX_FRAME_BYTES; sent += piece.length) splitter.push(piece);
    }).toThrow(FrameTooLarge);
    // Just under the limit, ended, is a frame.
    const ok = new FrameSplitter();
    const frames = ok.push(encoder.encode(`data: ${"y".repeat(MAX_FRAME_BYTES - 100)}\n\n`));
    expect(frames).toHaveLength(1);
  });

  it("concatFrames joins views into one new buffer", () => {
    const [a, b] = new FrameSplitter().push(encoder.encode("data: a\n\ndata: b\n\n"));
    const joined = concatFrames([a!, b!]);
    expect(decoder.decode(joined)).toBe("data: a\n\ndata: b\n\n");
    expect(joined.buffer).not.toBe(a!.buffer);
  });
});

describe("BatchScanner (the native feed's tap)", () => {
  const content = (text: string) => `data: {"choices":[{"index":0,"delta":{"content":"${text}"},"finish_reason":null}],"usage":null}\n\n`;

  it.each([
    ["compact JSON", '"finish_reason":"stop"', '"usage":{"prompt_tokens":1}', '{"error":{"message":"x"}}'],
    ["a space after the colons", '"finish_reason": "stop"', '"usage": {"prompt_tokens": 1}', '{"error": {"message": "x"}}'],
    ["spaces before the colons", '"finish_reason" : "stop"', '"usage" : {"prompt_tokens" : 1}', '{"error" : {"message" : "x"}}'],
  ])("cuts out only the frames that may hold a finish reason, usage, an error or [DONE], in %s", (_name, finish, usage, error) => {
    const needed = [`data: {"choices":[{"index":0,"delta":{},${finish}}]}\n\n`, `data: {"choices":[],${usage}}\n\n`, `data: ${error}\n\n`, "data: [DONE]\n\n"];
    const batch = new BatchScanner(new Uint8Array()).push(encoder.encode([content("a"), needed[0], content("b"), needed[1], needed[2], content("c"), needed[3]].join("")));
    expect(batch.needed).toEqual(needed);
    expect(batch.frames).toBe(7);
  });
});
