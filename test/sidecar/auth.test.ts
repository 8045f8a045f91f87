// Bearer auth from the token file, and rotation without a restart.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StartupError } from "../../sidecar/model.ts";
import type { Sidecar } from "../../sidecar/sidecar.ts";
import { client, createWorkspace, eventually, startTestSidecar, type Workspace } from "./harness.ts";

let workspace: Workspace;
let sidecar: Sidecar;

beforeAll(async () => {
  workspace = await createWorkspace();
  sidecar = await startTestSidecar(workspace);
});
afterAll(async () => {
  await sidecar?.close(500);
  await workspace?.cleanup();
});

const status = async (path: string, token?: string) =>
  (await fetch(`${sidecar.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })).status;

describe("auth", () => {
  it("answers 401 in the OpenAI shape without a token or with a wrong one", async () => {
    const response = await fetch(`${sidecar.url}/v1/models`);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: { message: expect.stringContaining("bearer token"), type: "invalid_request_error", param: null, code: "invalid_api_key" },
    });
    expect(await status("/health")).toBe(401);
    const wrong = await client(sidecar, "sk-wrong").models.list().catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(await status("/v1/models", workspace.token)).toBe(200);
  });

  it("answers a malformed Authorization header with 401 too, carrying the request id", async () => {
    for (const authorization of ["Basic abc", "Bearer not a token!", "Bearer"]) {
      const response = await fetch(`${sidecar.url}/v1/models`, { headers: { authorization, "x-request-id": "req-auth-1" } });
      expect(response.status).toBe(401);
      expect(response.headers.get("x-request-id")).toBe("req-auth-1");
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    }
  });

  it("picks up a rotated token without a restart", async () => {
    const old = workspace.token;
    await workspace.setToken("sk-sidecar-rotated-2");
    await eventually(async () => (await status("/v1/models", "sk-sidecar-rotated-2")) === 200, "the new token to work", 5000);
    expect(await status("/v1/models", old)).toBe(401);
  });

  it("refuses every request while the token file is empty", async () => {
    await writeFile(join(workspace.secretsDir, "SIDECAR_TOKEN"), "");
    await eventually(async () => (await status("/v1/models", workspace.token)) === 401, "the emptied token to stop working", 5000);
    await workspace.setToken("sk-sidecar-3");
    await eventually(async () => (await status("/v1/models", "sk-sidecar-3")) === 200, "the new token to work", 5000);
  });

  it("refuses to start without a token file unless --insecure-no-auth", async () => {
    const missing = join(workspace.dir, "no-secrets");
    await expect(startTestSidecar(workspace, { secretsDir: missing })).rejects.toThrow(StartupError);
    await expect(startTestSidecar(workspace, { secretsDir: missing })).rejects.toThrow(/--insecure-no-auth/);
    const open = await startTestSidecar(workspace, { secretsDir: missing, insecureNoAuth: true });
    try {
      expect((await fetch(`${open.url}/v1/models`)).status).toBe(200);
    } finally {
      await open.close(100);
    }
  });
});
