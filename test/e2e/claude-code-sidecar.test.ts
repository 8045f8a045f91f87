// Claude Code on the local sidecar alone: a route whose only provider is local_gguf, the tiny model
// behind it. Claude Code sends its whole system prompt and every tool's schema on each turn; to the
// tiny model's byte vocabulary that is one token per byte, so the model is written with a 131072-token
// context and the sidecar given all of it. Its text is gibberish; what is tested is that the
// Anthropic wire, the tools' schemas and the translation all hold from Claude Code to the model and back.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runClaude } from "../support/claude-code.ts";
import { startSidecarProcess, type SidecarProcess } from "../support/sidecar-process.ts";
import { startWranglerDev, type WranglerDev } from "../support/wrangler-dev.ts";

const KEY = "sk-e2e-claude-code-local";
const CONTEXT = 131_072;
let sidecar: SidecarProcess;
let edge: WranglerDev;
const work = mkdtempSync(join(tmpdir(), "inferrouter-claude-local-"));

beforeAll(async () => {
  sidecar = await startSidecarProcess({ model: { contextLength: CONTEXT }, args: ["--context-size", String(CONTEXT)] });
  const config = {
    routes: { local: ["mine"] },
    model_aliases: { "claude-*": "local" },
    providers: { mine: { type: "local_gguf", base_url: `${sidecar.url}/v1`, model: "tiny", api_key_secret: "SIDECAR_TOKEN", context_window: CONTEXT } },
  };
  edge = await startWranglerDev({ config, vars: { PROXY_API_KEYS: KEY, SIDECAR_TOKEN: sidecar.token } });
}, 120_000);

afterAll(async () => {
  await edge?.stop();
  await sidecar?.stop();
});

describe("Claude Code on the local sidecar alone", () => {
  it("completes a prompt answered by the local model", async () => {
    const run = await runClaude({ prompt: "Say hello.", baseUrl: edge.url, apiKey: KEY, cwd: work, args: ["--max-turns", "1"], timeoutMs: 300_000 });
    expect(run.code, `${run.stderr}\n${run.stdout}`).toBe(0);
    const result = JSON.parse(run.stdout) as { is_error: boolean; result: string };
    expect(result.is_error).toBe(false);
    expect(result.result.length).toBeGreaterThan(0);
    const completed = () => edge.events().filter((e) => e.event === "infer_completed");
    await expect.poll(() => completed().length).toBeGreaterThan(0);
    expect(completed().every((e) => e.api === "anthropic" && e.provider === "mine")).toBe(true);
    // The model read the whole of Claude Code's request: system prompt and every tool's schema.
    const answered = readFileSync(sidecar.logFile, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { event: string; prompt_tokens?: number });
    const prompts = answered.filter((e) => e.event === "infer_completed").map((e) => e.prompt_tokens ?? 0);
    expect(Math.max(...prompts)).toBeGreaterThan(32_768);
  }, 330_000);
});
