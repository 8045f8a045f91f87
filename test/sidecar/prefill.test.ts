// Prefill: a request whose last message is the assistant's own continues that message instead of
// answering it as a new turn (what the edge relies on to finish a stream another provider broke).
// Greedy decoding makes it checkable on the tiny model: continuing the first part of an answer
// gives exactly the rest of that answer, while the same text sent as a closed turn does not.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sidecar } from "../../sidecar/sidecar.ts";
import { client, createWorkspace, startTestSidecar, type Workspace } from "./harness.ts";

let workspace: Workspace;
let sidecar: Sidecar;
let openai: OpenAI;

beforeAll(async () => {
  workspace = await createWorkspace();
  sidecar = await startTestSidecar(workspace);
  openai = client(sidecar, workspace.token);
});

afterAll(async () => {
  await sidecar?.close(1000);
  await workspace?.cleanup();
});

type Messages = OpenAI.Chat.Completions.ChatCompletionMessageParam[];

/** The streamed text pieces of a greedy answer. */
async function streamedPieces(messages: Messages, maxTokens: number): Promise<string[]> {
  const stream = await openai.chat.completions.create({ model: "local", messages, max_tokens: maxTokens, temperature: 0, stream: true });
  const pieces: string[] = [];
  for await (const chunk of stream) {
    const text = chunk.choices[0]?.delta.content;
    if (text) pieces.push(text);
  }
  return pieces;
}

describe("prefill (a trailing assistant message)", () => {
  const question: Messages = [{ role: "user", content: "Tell me a story" }];

  it("continues the assistant's text: prefix + continuation equals the whole greedy answer", async () => {
    const whole = await streamedPieces(question, 16);
    expect(whole.length).toBeGreaterThan(8);
    const prefix = whole.slice(0, 6).join("");
    const rest = await streamedPieces([...question, { role: "assistant", content: prefix }], 16 - 6);
    expect(prefix + rest.join("")).toBe(whole.join(""));
  });

  it("answers a non-streaming continuation with only the new text", async () => {
    const whole = (await streamedPieces(question, 12)).join("");
    const pieces = await streamedPieces(question, 5);
    const prefix = pieces.join("");
    const completion = await openai.chat.completions.create({
      model: "local",
      messages: [...question, { role: "assistant", content: prefix }],
      max_tokens: 12 - pieces.length,
      temperature: 0,
    });
    expect(prefix + completion.choices[0]!.message.content).toBe(whole);
  });

  it("is not a new turn: the same text in a closed turn followed by a user turn answers differently", async () => {
    const whole = await streamedPieces(question, 16);
    const prefix = whole.slice(0, 6).join("");
    const newTurn = await streamedPieces([...question, { role: "assistant", content: prefix }, { role: "user", content: "go on" }], 10);
    expect(prefix + newTurn.join("")).not.toBe(whole.join(""));
  });
});
