// The CLI as a process: the ready line, a streamed answer, SIGTERM, and clear start-up failures
// (a bad model file must be an error message and exit code, never a stack trace or a SIGABRT).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir, readFile, truncate, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StartupError } from "../../sidecar/model.ts";
import { startSidecar } from "../../sidecar/sidecar.ts";
import { writeTinyLlamaGguf } from "../../scripts/gguf/tiny-llama.ts";
import { createWorkspace, eventually, type Workspace } from "./harness.ts";

let workspace: Workspace;
beforeAll(async () => {
  workspace = await createWorkspace();
});
afterAll(() => workspace?.cleanup());

const MAIN = join(import.meta.dirname, "../../sidecar/main.ts");

function launch(args: string[]) {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const exited = once(child, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null }));
  return { child, exited, stderr: () => stderr };
}

/** Runs the CLI to its exit (bounded by the test timeout) and returns code, signal and stderr. */
async function runToExit(args: string[]) {
  const run = launch(args);
  const result = await run.exited;
  return { ...result, stderr: run.stderr() };
}

function expectCleanFailure(result: { code: number | null; signal: string | null; stderr: string }, message: RegExp) {
  expect(result.signal).toBeNull(); // not killed by SIGABRT
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe("sidecar CLI", () => {
  it("serves a streamed answer to the openai SDK and exits 0 on SIGTERM", async () => {
    const logFile = join(workspace.dir, "cli.jsonl");
    const run = launch(["--model", workspace.modelPath, "--insecure-no-auth", "--port", "0", "--threads", "1", "--context-size", "32768", "--log-file", logFile, "--grace-ms", "300"]);
    const url = await eventually(() => run.stderr().match(/inferrouter-sidecar listening on (http:\/\/\S+)/)?.[1], "the ready line", 30_000);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
    const stream = await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Hello" }], max_tokens: 10, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text.length).toBeGreaterThan(0);

    // A generation still running at SIGTERM is cancelled after the grace period; the process exits 0.
    const endless = await openai.chat.completions.create(
      { model: "tiny", messages: [{ role: "user", content: "go" }], temperature: 0, stream: true },
      { headers: { "x-request-id": "at-sigterm" } },
    );
    const iterator = endless[Symbol.asyncIterator]();
    await iterator.next();
    run.child.kill("SIGTERM");
    expect(await run.exited).toEqual({ code: 0, signal: null });
    const lines = (await readFile(logFile, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((l) => l.request_id === "at-sigterm").map((l) => [l.event, l.reason])).toEqual([
      ["infer_started", undefined],
      ["infer_cancelled", "shutdown"],
    ]);
    expect(lines.at(-1)).toMatchObject({ message: "stopped" });
  });

  it("exits 1 with a clear message for a missing model file", async () => {
    expectCleanFailure(await runToExit(["--model", join(workspace.dir, "nope.gguf"), "--insecure-no-auth"]), /model file not found: .*nope\.gguf/);
  });

  it("exits 1 with a clear message for a file that is not GGUF", async () => {
    const path = join(workspace.dir, "garbage.gguf");
    await writeFile(path, "this is not a model at all".repeat(100));
    expectCleanFailure(await runToExit(["--model", path, "--insecure-no-auth"]), /not a readable GGUF model file/);
  });

  it("exits 1, not SIGABRT, for a GGUF lacking llama.feed_forward_length or llama.attention.head_count", async () => {
    for (const key of ["llama.feed_forward_length", "llama.attention.head_count"]) {
      const path = join(workspace.dir, "incomplete.gguf");
      await writeTinyLlamaGguf(path, { omitKeys: [key] });
      expectCleanFailure(await runToExit(["--model", path, "--insecure-no-auth"]), new RegExp(`lacks ${key.replaceAll(".", "\\.")}`));
    }
  });

  it("exits 1 with a clear message for a truncated model file", async () => {
    const path = join(workspace.dir, "truncated.gguf");
    await copyFile(workspace.modelPath, path);
    await truncate(path, 200_000);
    expectCleanFailure(await runToExit(["--model", path, "--insecure-no-auth"]), /could not load .*truncated|corrupt/);
  });

  it("exits 1 without a token file unless --insecure-no-auth", async () => {
    const result = await runToExit(["--model", workspace.modelPath, "--secrets-dir", join(workspace.dir, "empty-secrets")]);
    expectCleanFailure(result, /SIDECAR_TOKEN is missing.*--insecure-no-auth/);
  });

  it("reads SIDECAR_TOKEN (the edge's name), and the old sidecar_token with a deprecation line", async () => {
    for (const name of ["SIDECAR_TOKEN", "sidecar_token"]) {
      const dir = join(workspace.dir, `secrets-${name}`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, name), "tok-123\n");
      const run = launch(["--model", workspace.modelPath, "--secrets-dir", dir, "--port", "0", "--threads", "1"]);
      try {
        const url = await eventually(() => run.stderr().match(/inferrouter-sidecar listening on (http:\/\/\S+)/)?.[1], "the ready line", 30_000);
        expect((await fetch(`${url}/v1/models`, { headers: { authorization: "Bearer tok-123" } })).status).toBe(200);
        expect((await fetch(`${url}/v1/models`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
        if (name === "sidecar_token") expect(run.stderr()).toContain(`deprecated: ${join(dir, "sidecar_token")}: rename it to SIDECAR_TOKEN`);
        else expect(run.stderr()).not.toContain("deprecated");
      } finally {
        run.child.kill("SIGTERM");
        await run.exited;
      }
    }
  });

  it("exits 1 with one line naming --port when the port is in use", async () => {
    const taken = createServer().listen(0, "127.0.0.1");
    await once(taken, "listening");
    try {
      const port = String((taken.address() as AddressInfo).port);
      const result = await runToExit(["--model", workspace.modelPath, "--insecure-no-auth", "--port", port, "--threads", "1"]);
      expectCleanFailure(result, new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${port}: the port is taken; pick another with --port`));
    } finally {
      taken.close();
    }
  });

  it("exits 2 with usage for bad arguments", async () => {
    const result = await runToExit(["--model", workspace.modelPath, "--parallel", "zero"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--parallel must be an integer/);
    expect(result.stderr).toMatch(/usage: inferrouter-sidecar/);
  });

  it("says to pass a local file when an hf: model cannot be fetched, through the real CLI, quickly", async () => {
    const started = Date.now();
    const result = await runToExit(["--model", "hf:inferrouter/does-not-exist/model.gguf", "--insecure-no-auth", "--port", "0", "--download-stall-ms", "3000"]);
    expectCleanFailure(result, /inferrouter-sidecar: could not fetch model hf:inferrouter\/does-not-exist\/model\.gguf.*pass its local path with --model/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("says so in-process too (StartupError)", async () => {
    const error = await startSidecar({
      model: "hf:inferrouter/does-not-exist/model.gguf",
      insecureNoAuth: true,
      port: 0,
      downloadStallMs: 1500,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartupError);
    expect((error as Error).message).toMatch(/pass its local path with --model/);
  });
});
