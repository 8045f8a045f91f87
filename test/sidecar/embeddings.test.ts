// The sidecar's /v1/embeddings from the tiny GGUF (real node-llama-cpp embedding context), with the
// official openai SDK: its default base64 and floats, arrays of inputs, dimensions, the log.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sidecar } from "../../sidecar/sidecar.ts";
import { client, createWorkspace, eventually, startLongStream, startTestSidecar, type Workspace } from "./harness.ts";

let workspace: Workspace;
let sidecar: Sidecar;

beforeAll(async () => {
  workspace = await createWorkspace();
  // The same file as --model: the chat model's own weights give the vectors.
  // One slot and no queue: an embedding request meets the same limits as chat.
  sidecar = await startTestSidecar(workspace, { embeddingModel: workspace.modelPath, contextSize: 512, parallel: 1, maxQueue: 0 });
});

afterAll(async () => {
  await sidecar?.close(0);
  await workspace?.cleanup();
});

const norm = (vector: number[]) => Math.hypot(...vector);

describe("sidecar embeddings", () => {
  it("answers the SDK's default (base64) and floats with the same unit vectors", async () => {
    const openai = client(sidecar, workspace.token);
    const decoded = await openai.embeddings.create({ model: "local", input: "hello world" });
    const floats = await openai.embeddings.create({ model: "local", input: "hello world", encoding_format: "float" });
    const a = decoded.data[0]!.embedding;
    const b = floats.data[0]!.embedding;
    expect(a.length).toBeGreaterThan(8);
    expect(a).toHaveLength(b.length);
    a.forEach((value, i) => expect(value).toBeCloseTo(b[i]!, 5));
    expect(norm(b)).toBeCloseTo(1, 5);
    expect(floats.usage.prompt_tokens).toBeGreaterThan(0);
    expect(floats.usage.total_tokens).toBe(floats.usage.prompt_tokens);
  });

  it("embeds arrays of inputs in order, token arrays too, and shortens to dimensions", async () => {
    const openai = client(sidecar, workspace.token);
    const single = await openai.embeddings.create({ model: "local", input: "second", encoding_format: "float" });
    const batch = await openai.embeddings.create({ model: "local", input: ["first", "second"], encoding_format: "float" });
    expect(batch.data.map((d) => d.index)).toEqual([0, 1]);
    batch.data[1]!.embedding.forEach((value, i) => expect(value).toBeCloseTo(single.data[0]!.embedding[i]!, 5));
    expect(batch.data[0]!.embedding).not.toEqual(batch.data[1]!.embedding);
    const tokens = await openai.embeddings.create({ model: "local", input: [[1, 2, 3], [4, 5]], encoding_format: "float" });
    expect(tokens.usage.prompt_tokens).toBe(5);
    const short = await openai.embeddings.create({ model: "local", input: "second", dimensions: 4, encoding_format: "float" });
    expect(short.data[0]!.embedding).toHaveLength(4);
    expect(norm(short.data[0]!.embedding)).toBeCloseTo(1, 5);
  });

  it("takes the same slots as chat: with the one slot busy and no queue it is a 503 with retry-after", async () => {
    const long = await startLongStream(sidecar, workspace.token, "long-1");
    try {
      const res = await fetch(`${sidecar.url}/v1/embeddings`, {
        method: "POST",
        headers: { authorization: `Bearer ${workspace.token}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "local", input: "wait" }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("queue_full");
    } finally {
      long.abort();
    }
    await eventually(async () => (await fetch(`${sidecar.url}/health`, { headers: { authorization: `Bearer ${workspace.token}` } }).then((r) => r.json()) as { busy: number }).busy === 0, "the slot to free");
    const after = await client(sidecar, workspace.token).embeddings.create({ model: "local", input: "now", encoding_format: "float" });
    expect(after.data).toHaveLength(1);
  });

  it("answers 404 when started without --embedding-model", async () => {
    const plain = await startTestSidecar(workspace, { contextSize: 256 });
    try {
      await expect(client(plain, workspace.token).embeddings.create({ model: "local", input: "x" })).rejects.toMatchObject({ status: 404, code: "embeddings_not_served" });
    } finally {
      await plain.close(0);
    }
  });

  it("refuses bad input with a 400 naming the param, and logs each request once", async () => {
    const openai = client(sidecar, workspace.token);
    await expect(openai.embeddings.create({ model: "local", input: "x", dimensions: 100_000 })).rejects.toMatchObject({ status: 400, param: "dimensions" });
    await expect(openai.embeddings.create({ model: "local", input: [] as string[] })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    // As OpenAI does: an empty string is a 400, not an empty vector.
    await expect(openai.embeddings.create({ model: "local", input: "" })).rejects.toMatchObject({ status: 400, param: "input" });
    await expect(openai.embeddings.create({ model: "local", input: ["ok", ""] })).rejects.toMatchObject({ status: 400, param: "input[1]" });
  });

  it("refuses token ids outside the vocabulary with a 400 naming the id, and stays healthy", async () => {
    const openai = client(sidecar, workspace.token);
    await expect(openai.embeddings.create({ model: "local", input: [999_999] })).rejects.toMatchObject({ status: 400, param: "input[0]", message: expect.stringContaining("999999") });
    await expect(openai.embeddings.create({ model: "local", input: [[1, 2], [3, 999_999]] })).rejects.toMatchObject({ status: 400, param: "input[1][1]" });
    const after = await openai.embeddings.create({ model: "local", input: [[1, 2]], encoding_format: "float" });
    expect(after.data[0]!.embedding.length).toBeGreaterThan(8);
    const events = await eventually(async () => {
      const all = await workspace.events();
      return all.filter((e) => e.event === "infer_failed").length >= 1 && all;
    }, "the failure's log line");
    const ids = new Set(events.filter((e) => e.event === "infer_started").map((e) => e.request_id));
    for (const id of ids) {
      expect(events.filter((e) => e.request_id === id && ["infer_completed", "infer_failed", "infer_cancelled"].includes(e.event))).toHaveLength(1);
    }
    expect(events.some((e) => e.event === "infer_completed" && (e.prompt_tokens ?? 0) > 0)).toBe(true);
  });
});
