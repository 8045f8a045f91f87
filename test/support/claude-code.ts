// Claude Code itself (`claude -p`, the exact-pinned dev dependency @anthropic-ai/claude-code) as a
// process pointed at the edge: ANTHROPIC_BASE_URL the edge, ANTHROPIC_API_KEY a client key, a fresh
// home and nothing else inherited, so it reaches no network but ours.
import { execFile } from "node:child_process";

const CLAUDE = new URL("../../node_modules/.bin/claude", import.meta.url).pathname;

export interface ClaudeRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

export function runClaude(options: { prompt: string; baseUrl: string; apiKey: string; cwd: string; args?: string[]; timeoutMs?: number }): Promise<ClaudeRun> {
  return new Promise((resolve) => {
    const child = execFile(CLAUDE, ["-p", options.prompt, "--output-format", "json", ...(options.args ?? [])], {
      cwd: options.cwd,
      timeout: options.timeoutMs ?? 120_000,
      env: { PATH: process.env.PATH, HOME: options.cwd, ANTHROPIC_BASE_URL: options.baseUrl, ANTHROPIC_API_KEY: options.apiKey, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", DISABLE_AUTOUPDATER: "1" },
    }, (error, stdout, stderr) => resolve({ stdout, stderr, code: error ? (typeof error.code === "number" ? error.code : 1) : 0 }));
    child.stdin?.end();
  });
}
