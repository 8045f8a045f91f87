// The tiny GGUF writer: deterministic, small, and a file node-llama-cpp reads and loads.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, readGgufFileInfo } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTinyLlamaGguf, TINY_CHAT_TEMPLATE, writeTinyLlamaGguf } from "../../scripts/gguf/tiny-llama.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tiny-gguf-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("tiny llama GGUF", () => {
  it("is deterministic for a seed and small", () => {
    const a = buildTinyLlamaGguf({ seed: 7 });
    expect(Buffer.from(a).equals(Buffer.from(buildTinyLlamaGguf({ seed: 7 })))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(buildTinyLlamaGguf({ seed: 8 })))).toBe(false);
    expect(a.length).toBeLessThan(1024 * 1024);
  });

  it("has the llama metadata, byte vocabulary and chat template", async () => {
    const path = join(dir, "tiny.gguf");
    await writeTinyLlamaGguf(path);
    const info = await readGgufFileInfo(path);
    expect(info.version).toBe(3);
    expect(info.metadata.general.architecture).toBe("llama");
    expect(info.architectureMetadata).toMatchObject({ embedding_length: 64, block_count: 2, feed_forward_length: 128, attention: { head_count: 4 } });
    const tokens = info.metadata.tokenizer.ggml.tokens as string[];
    expect(tokens.slice(0, 3)).toEqual(["<unk>", "<s>", "</s>"]);
    expect(tokens).toContain("<0x00>");
    expect(tokens).toContain("<0xFF>");
    expect(info.metadata.tokenizer.chat_template).toBe(TINY_CHAT_TEMPLATE);
  });

  it("loads in node-llama-cpp and round-trips text through its tokenizer", async () => {
    const path = join(dir, "roundtrip.gguf");
    await writeTinyLlamaGguf(path, { seed: 3 });
    const llama = await getLlama({ gpu: false, build: "never", maxThreads: 1 });
    try {
      const model = await llama.loadModel({ modelPath: path });
      const text = "Hello, world! {\"a\": 1}";
      const tokens = model.tokenize(text);
      expect(model.detokenize(tokens)).toBe(text);
      expect(model.tokenizer.isEogToken(model.tokenize("<|im_end|>", true)[0]!)).toBe(true);
    } finally {
      await llama.dispose();
    }
  });
});
