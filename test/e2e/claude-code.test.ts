// Claude Code itself (`claude -p`, support/claude-code.ts) against the edge under wrangler dev. Its
// chain's first provider answers 429, the second is a scripted OpenAI-compatible fake that first calls Claude Code's Read tool and then answers from the tool_result Claude Code sent.
// Its native binary comes in a per-platform package; the postinstall (allowScripts) copies it into place.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runClaude } from "../support/claude-code.ts";
import { startFakeProvider, type FakeProvider } from "../support/fake-provider.ts";
import { startWranglerDev, type WranglerDev } from "../support/wrangler-dev.ts";

const KEY = "sk-e2e-claude-code";
let fake: FakeProvider;
let edge: WranglerDev;
const work = mkdtempSync(join(tmpdir(), "inferrouter-claude-"));
const note = join(work, "note.txt");

const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish }] });

beforeAll(async () => {
  writeFileSync(note, "The secret word is marmalade.\n");
  fake = await startFakeProvider();
  const script = (id: string, steps: unknown[]) => fetch(`${fake.url}/_script/${id}`, { method: "POST", body: JSON.stringify({ steps }) });
  await script("limited", [{ type: "json", status: 429, headers: { "retry-after": "30" }, body: { error: { message: "Rate limit reached" } } }]);
  await script("scripted", [
    { type: "sse", events: [
      chunk({ role: "assistant", tool_calls: [{ index: 0, id: "call_read", type: "function", function: { name: "Read", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: JSON.stringify({ file_path: note }) } }] }),
      chunk({}, "tool_calls"),
    ] },
    { type: "sse", content: "The note says marmalade." },
  ]);
  const cloud = (id: string) => ({ type: "openai_compatible", base_url: `${fake.url}/s/${id}/v1`, model: `cloud-${id}`, api_key_secret: "CLOUD_KEY" });
  const config = { routes: { coding: ["limited", "scripted"] }, model_aliases: { "claude-*": "coding" }, providers: { limited: cloud("limited"), scripted: cloud("scripted") } };
  edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: KEY, CLOUD_KEY: "sk-cloud" } });
});

afterAll(async () => {
  await edge?.stop();
  await fake?.close();
});

const claude = (prompt: string) => runClaude({ prompt, baseUrl: edge.url, apiKey: KEY, cwd: work });

describe("Claude Code on a chain (first provider 429, second a scripted fake)", () => {
  it("completes a prompt with a Read tool turn: the tool_result goes back through the chain", async () => {
    const run = await claude("What does note.txt say?");
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { is_error: boolean; result: string; num_turns: number };
    expect(result).toMatchObject({ is_error: false, result: "The note says marmalade.", num_turns: 2 });
    const calls = (await (await fetch(`${fake.url}/_calls/scripted`)).json()) as Array<{ body: { messages: Array<{ role: string; content: unknown; tool_call_id?: string; tool_calls?: unknown[] }> } }>;
    expect(calls).toHaveLength(2);
    const second = calls[1]!.body.messages;
    expect(second.find((m) => m.role === "assistant")?.tool_calls).toMatchObject([{ id: "call_read", function: { name: "Read" } }]);
    const result2 = second.find((m) => m.role === "tool");
    expect(result2).toMatchObject({ tool_call_id: "call_read" });
    expect(String(result2!.content)).toContain("marmalade");
    // The log lines are written after each answer (waitUntil): wait for both terminal ones.
    const completed = () => edge.events().filter((e) => e.event === "infer_completed");
    await expect.poll(() => completed().length).toBe(2);
    expect(completed().every((e) => e.api === "anthropic" && e.provider === "scripted")).toBe(true);
    const lines = edge.events();
    expect(lines.some((e) => e.event === "infer_fallback" && e.provider === "limited")).toBe(true);
  });
});
