// `npm run serve`: the bundled Worker under plain workerd with secrets as files, Durable Object
// state on disk, daily log files, a supervisor that restarts a crashed workerd, and SIGTERM that
// ends everything with exit code 0. Providers are the scripted fake provider.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeProvider, type FakeProvider } from "../support/fake-provider.ts";
import type { RecordedCall } from "../support/fake-provider-protocol.ts";
import { startProcess } from "../../scripts/processes.ts";
import { bundleWorker } from "../../scripts/serve/worker-project.ts";
import { alive, removeServeDirs, serveDirs, startServe, type ServeDirs } from "../support/serve-process.ts";

const root = new URL("../../", import.meta.url).pathname;
const CLIENT = "sk-serve-client";
const ADMIN = "sk-serve-admin";
let fake: FakeProvider;
/** The Worker bundled once, for the tests that start serve with --bundle (as the edge image does). */
let bundle: string;

beforeAll(async () => {
  fake = await startFakeProvider();
  bundle = mkdtempSync(join(tmpdir(), "inferrouter-serve-test-bundle-"));
  bundleWorker(join(root, "wrangler.toml"), bundle);
});
afterAll(async () => {
  await fake?.close();
  removeServeDirs();
  if (bundle) rmSync(bundle, { recursive: true, force: true });
});

function setup(id: string, extra: Record<string, unknown> = {}): ServeDirs {
  const config = {
    routes: { default: [id] },
    providers: { [id]: { type: "openai_compatible", base_url: `${fake.url}/s/${id}/v1`, model: `model-${id}`, api_key_secret: "UPSTREAM_KEY", ...extra } },
  };
  return serveDirs(config, { PROXY_API_KEYS: CLIENT, ADMIN_API_KEYS: ADMIN, UPSTREAM_KEY: "sk-upstream-1" });
}

const chat = (url: string, key = CLIENT, stream = false) =>
  fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "default", stream, messages: [{ role: "user", content: "hi" }] }),
  });

const script = (id: string, steps: unknown[]) => fetch(`${fake.url}/_script/${id}`, { method: "POST", body: JSON.stringify({ steps }) });
const quota = async (url: string) =>
  (await (await fetch(`${url}/v1/quota`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
    providers: Record<string, { requests_today: number; cooldown_until: string | null; circuit: { state: string; open_until: string | null } }>;
  };
/** A fresh TMPDIR for serve, to see that it leaves nothing there. */
const freshTmp = () => {
  const dir = join(serveDirs({}, {}).dir, "tmp");
  mkdirSync(dir);
  return dir;
};
const calls = async (id: string) => (await (await fetch(`${fake.url}/_calls/${id}`)).json()) as RecordedCall[];
const eventLines = (output: string) => output.split("\n").filter((line) => line.startsWith('{"ts"'));

describe("npm run serve", () => {
  it("keeps quota counts across a restart (Durable Object state under --state-dir), and SIGTERM exits 0", async () => {
    const dirs = setup("daily", { requests_per_day: 2 });
    let serve = await startServe(dirs);
    expect((await chat(serve.url)).status).toBe(200);
    expect((await chat(serve.url)).status).toBe(200);
    expect((await chat(serve.url)).status).toBe(429);
    const firstWorkerd = serve.workerdPid;
    expect(await serve.stop()).toBe(0);
    expect(alive(firstWorkerd)).toBe(false);

    serve = await startServe(dirs);
    try {
      expect(serve.workerdPid).not.toBe(firstWorkerd);
      const denied = await chat(serve.url);
      expect(denied.status).toBe(429);
      expect(((await denied.json()) as { error: { code: string } }).error.code).toBe("all_providers_rate_limited");
      const quota = await fetch(`${serve.url}/v1/quota`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const report = (await quota.json()) as { providers: { daily: { requests_today: number } } };
      expect(report.providers.daily.requests_today).toBe(2);
      expect(await calls("daily")).toHaveLength(2);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });

  it("reads secret files at request time: a rotated provider key and client key take effect without a restart", async () => {
    const dirs = setup("rotate");
    const serve = await startServe(dirs);
    try {
      expect((await chat(serve.url)).status).toBe(200);
      expect((await calls("rotate")).at(-1)!.headers.authorization).toBe("Bearer sk-upstream-1");

      writeFileSync(join(dirs.secrets, "UPSTREAM_KEY"), "sk-upstream-2\n");
      writeFileSync(join(dirs.secrets, "PROXY_API_KEYS"), "sk-serve-client-2\n");
      // Cached for at most a second: within a few seconds the new files are what counts.
      await vi.waitFor(async () => expect((await chat(serve.url, "sk-serve-client-2")).status).toBe(200), { timeout: 5_000, interval: 200 });
      expect((await calls("rotate")).at(-1)!.headers.authorization).toBe("Bearer sk-upstream-2");
      expect((await chat(serve.url)).status).toBe(401);
      expect(alive(serve.workerdPid)).toBe(true);
      expect(serve.output()).not.toContain("restarting");
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });

  it("answers every request while the secret files' cache turns over under load (no request awaits another's read)", async () => {
    // Found by bench:soak: a secret-file read in flight was shared with concurrent requests, and one
    // of them now and then failed as a plain 500 ("Cannot perform I/O on behalf of a different
    // request"): about twice a second under 8 back-to-back clients, so 4 s shows it.
    const serve = await startServe(setup("busy"), { bundle, ignoreStdout: true });
    const statuses = new Map<number, number>();
    const until = Date.now() + 4_000;
    try {
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (Date.now() < until) {
            const res = await chat(serve.url);
            await res.text();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          }
        }),
      );
      expect([...statuses.keys()]).toEqual([200]);
      expect(serve.output()).not.toContain("different request");
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });

  it("writes each event to stdout and to the day's operations file, and serves the file at /v1/logs", async () => {
    const dirs = setup("logged");
    const serve = await startServe(dirs);
    try {
      expect((await chat(serve.url)).status).toBe(200);
      const streamed = await chat(serve.url, CLIENT, true);
      expect(streamed.status).toBe(200);
      await streamed.text();
      expect((await chat(serve.url, "sk-wrong")).status).toBe(401);
      await vi.waitFor(() => expect(eventLines(serve.output()).filter((l) => /"event":"infer_(completed|failed)"/.test(l))).toHaveLength(3), { timeout: 5_000 });

      const lines = eventLines(serve.output());
      const days = [...new Set(lines.map((line) => (JSON.parse(line) as { ts: string }).ts.slice(0, 10)))];
      expect(readdirSync(dirs.logs).sort()).toEqual(days.map((day) => `operations-${day}.jsonl`).sort());
      const fileLines = days.flatMap((day) => readFileSync(join(dirs.logs, `operations-${day}.jsonl`), "utf8").trim().split("\n"));
      expect(fileLines).toEqual(lines);
      const events = lines.map((line) => JSON.parse(line) as { event: string; request_id: string });
      for (const started of events.filter((e) => e.event === "infer_started")) {
        expect(events.filter((e) => e.request_id === started.request_id && /^infer_(completed|failed|cancelled)$/.test(e.event))).toHaveLength(1);
      }

      const admin = { authorization: `Bearer ${ADMIN}` };
      const day = await fetch(`${serve.url}/v1/logs?date=${days[0]}`, { headers: admin });
      expect(day.status).toBe(200);
      expect(day.headers.get("content-type")).toContain("application/x-ndjson");
      expect((await day.text()).trim().split("\n")).toEqual(readFileSync(join(dirs.logs, `operations-${days[0]}.jsonl`), "utf8").trim().split("\n"));

      const today = new Date().toISOString().slice(0, 10);
      const todays = await fetch(`${serve.url}/v1/logs`, { headers: admin }); // no date: today (UTC)
      expect(todays.status).toBe(200);
      expect((await todays.text()).trim().split("\n")).toEqual(readFileSync(join(dirs.logs, `operations-${today}.jsonl`), "utf8").trim().split("\n"));

      const bad = await fetch(`${serve.url}/v1/logs?date=2026-02-30`, { headers: admin });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ error: { message: expect.stringContaining("YYYY-MM-DD"), type: "invalid_request_error", param: "date", code: "invalid_date" } });
      const none = await fetch(`${serve.url}/v1/logs?date=2001-01-01`, { headers: admin });
      expect(none.status).toBe(404);
      expect(await none.json()).toEqual({ error: { message: "No operation log for 2001-01-01 (UTC)", type: "invalid_request_error", param: "date", code: "log_not_found" } });
      expect((await fetch(`${serve.url}/v1/logs?date=${days[0]}`, { headers: { authorization: `Bearer ${CLIENT}` } })).status).toBe(403);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });

  it("restarts a crashed workerd on the same port, and gives up (exit 1) after 5 restarts within a minute", async () => {
    const dirs = setup("crash");
    const serve = await startServe(dirs);
    const restarted = () => [...serve.output().matchAll(/workerd restarted \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    const exited = new Promise<number | null>((resolve) => serve.child.once("exit", resolve));
    try {
      expect((await chat(serve.url)).status).toBe(200);
      process.kill(serve.workerdPid, "SIGKILL");
      await vi.waitFor(() => expect(restarted()).toHaveLength(1), { timeout: 20_000, interval: 100 });
      expect(serve.output()).toContain("restarting (1 of at most 5 within 60 s)");
      expect((await chat(serve.url)).status).toBe(200);
      // Four more crashes are restarted; the sixth within the minute ends serve.
      for (let crash = 2; crash <= 5; crash++) {
        process.kill(restarted().at(-1)!, "SIGKILL");
        await vi.waitFor(() => expect(restarted()).toHaveLength(crash), { timeout: 20_000, interval: 100 });
      }
      const last = restarted().at(-1)!;
      process.kill(last, "SIGKILL");
      expect(await exited).toBe(1);
      expect(serve.output()).toContain("workerd exited (SIGKILL) 6 times within 60 s; giving up");
      expect(alive(last)).toBe(false);
    } finally {
      await serve.stop();
    }
  });

  it("SIGTERM lets a stream in flight finish, and its lines reach the log file before exit", async () => {
    const dirs = setup("slow");
    const words = Array.from({ length: 8 }, (_, i) => ({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content: `w${i} ` }, finish_reason: null }] }));
    await fetch(`${fake.url}/_script/slow`, { method: "POST", body: JSON.stringify({ steps: [{ type: "sse", gap_ms: 100, events: words }] }) });
    const serve = await startServe(dirs);
    const res = await chat(serve.url, CLIENT, true);
    const reader = res.body!.getReader();
    await reader.read();
    const stopped = serve.stop();
    let text = "";
    for (let part = await reader.read(); !part.done; part = await reader.read()) text += new TextDecoder().decode(part.value);
    expect(text).toContain("w7 ");
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(await stopped).toBe(0);
    const file = readdirSync(dirs.logs).map((name) => readFileSync(join(dirs.logs, name), "utf8")).join("");
    expect(file).toMatch(/"event":"infer_completed".*"stream":true/);
  });

  it("keeps cool-downs and open circuits across a restart: neither provider is called again", async () => {
    const providers = {
      cool: { type: "openai_compatible", base_url: `${fake.url}/s/cool/v1`, model: "m", api_key_secret: "UPSTREAM_KEY", retries: 0, requests_per_day: 1000 },
      trip: { type: "openai_compatible", base_url: `${fake.url}/s/trip/v1`, model: "m", api_key_secret: "UPSTREAM_KEY", retries: 0, requests_per_day: 1000, breaker_cooldown_ms: 600_000 },
    };
    const dirs = serveDirs({ routes: { default: ["cool"], trip: ["trip"] }, providers }, { PROXY_API_KEYS: CLIENT, ADMIN_API_KEYS: ADMIN, UPSTREAM_KEY: "sk-upstream-1" });
    await script("cool", [{ type: "json", status: 429, headers: { "retry-after": "600" }, body: { error: { message: "slow down" } } }]);
    await script("trip", [{ type: "json", status: 500, body: { error: { message: "down" } } }]);
    const ask = (url: string, model: string) =>
      fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${CLIENT}`, "content-type": "application/json" }, body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }) });
    let serve = await startServe(dirs, { bundle });
    let before: Awaited<ReturnType<typeof quota>>;
    try {
      expect((await ask(serve.url, "default")).status).toBe(429);
      // breaker_failures (default 2) server errors open the circuit.
      for (let i = 0; i < 2; i++) expect((await ask(serve.url, "trip")).status).toBe(503);
      before = await quota(serve.url);
      expect(Date.parse(before.providers.cool!.cooldown_until!)).toBeGreaterThan(Date.now() + 500_000);
      expect(before.providers.trip!.circuit.state).toBe("open");
    } finally {
      expect(await serve.stop()).toBe(0);
    }
    serve = await startServe(dirs, { bundle });
    try {
      const after = await quota(serve.url);
      expect(after.providers.cool!.cooldown_until).toBe(before.providers.cool!.cooldown_until);
      expect(after.providers.trip!.circuit).toEqual(before.providers.trip!.circuit);
      expect((await ask(serve.url, "default")).status).toBe(429);
      expect((await ask(serve.url, "trip")).status).toBe(503);
      expect(await calls("cool")).toHaveLength(1);
      expect(await calls("trip")).toHaveLength(2);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });

  it("ignores a second SIGTERM during the stop: the slow request finishes, exit 0, workerd gone", async () => {
    const dirs = setup("twice");
    await script("twice", [{ type: "json", delay_ms: 2_000, body: { id: "x", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "slow" }, finish_reason: "stop" }] } }]);
    const serve = await startServe(dirs, { bundle });
    const exited = new Promise<number | null>((resolve) => serve.child.once("exit", resolve));
    const answer = chat(serve.url);
    await vi.waitFor(() => expect(serve.output()).toContain('"event":"infer_started"'), { timeout: 5_000, interval: 50 });
    serve.child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 500));
    serve.child.kill("SIGTERM");
    const res = await answer;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe("slow");
    expect(await exited).toBe(0);
    expect(alive(serve.workerdPid)).toBe(false);
    expect(serve.output()).toContain("serve: SIGTERM again: already stopping");
    const file = readdirSync(dirs.logs).map((name) => readFileSync(join(dirs.logs, name), "utf8")).join("");
    expect(file).toContain('"event":"infer_completed"');
  });

  it("kills workerd after --grace-ms, says so, and ends each request still open with an infer_cancelled line", async () => {
    const dirs = setup("graceless");
    await script("graceless", [{ type: "json", delay_ms: 20_000, body: {} }]);
    const serve = await startServe(dirs, { bundle, args: ["--grace-ms", "300"] });
    const answer = chat(serve.url).then((res) => res.text()).then(() => "answered", () => "cut");
    await vi.waitFor(() => expect(serve.output()).toContain('"event":"infer_started"'), { timeout: 5_000, interval: 50 });
    expect(await serve.stop()).toBe(0);
    expect(await answer).toBe("cut");
    expect(alive(serve.workerdPid)).toBe(false);
    expect(serve.output()).toContain("workerd still running 300 ms after SIGTERM (--grace-ms): killing it (SIGKILL)");
    const events = readdirSync(dirs.logs).flatMap((name) => readFileSync(join(dirs.logs, name), "utf8").trim().split("\n")).map((line) => JSON.parse(line) as Record<string, unknown>);
    const started = events.filter((e) => e.event === "infer_started");
    expect(started).toHaveLength(1);
    const ends = events.filter((e) => e.request_id === started[0]!.request_id && /^infer_(completed|failed|cancelled)$/.test(String(e.event)));
    expect(ends).toEqual([expect.objectContaining({ event: "infer_cancelled", reason: "serve_shutdown", route: "default", source: "edge", message: expect.stringContaining("--grace-ms 300") })]);
    // The same line went to stdout.
    expect(eventLines(serve.output()).some((line) => line.includes('"reason":"serve_shutdown"'))).toBe(true);
  });

  it("SIGTERM while it bundles: the bundler is stopped, its temp dir removed, exit 0", async () => {
    const tmp = freshTmp();
    const dirs = setup("early");
    const args = ["scripts/serve.ts", "--port", "0", "--config", dirs.config, "--secrets-dir", dirs.secrets, "--state-dir", dirs.state, "--log-dir", dirs.logs];
    const serve = await startProcess(process.execPath, args, { ready: /bundling the Worker \(wrangler deploy --dry-run, pid (\d+)\)/, timeoutMs: 30_000, cwd: root, env: { TMPDIR: tmp } });
    const bundler = Number(serve.match[1]);
    expect(alive(bundler)).toBe(true);
    expect(await serve.stop()).toBe(0);
    expect(alive(bundler)).toBe(false);
    expect(serve.output()).toContain("serve: SIGTERM during start-up: stopping");
    expect(serve.output()).not.toContain("listening");
    expect(readdirSync(tmp)).toEqual([]);
  });

  it("a failed bundle is one serve: line with wrangler's message (no colours, no stack), exit 1, no temp dir left", () => {
    const tmp = freshTmp();
    const dirs = setup("nobundle");
    const failing = join(dirs.dir, "failing-wrangler.mjs");
    writeFileSync(failing, `process.stderr.write("\\x1b[31m✘ \\x1b[41;31m[\\x1b[41;97mERROR\\x1b[41;31m]\\x1b[0m \\x1b[1mA permission error occurred while accessing the file system.\\x1b[0m\\n\\n  Affected path: /app/.wrangler/tmp\\n"); process.exitCode = 1;\n`);
    const run = spawnSync(process.execPath, ["scripts/serve.ts", "--port", "0", "--config", dirs.config, "--secrets-dir", dirs.secrets, "--state-dir", dirs.state, "--log-dir", dirs.logs], {
      encoding: "utf8",
      cwd: root,
      env: { ...process.env, TMPDIR: tmp, INFERROUTER_WRANGLER_JS: failing },
    });
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split("\n");
    expect(lines.at(-1)).toBe("serve: bundling the Worker failed (wrangler 1): ✘ [ERROR] A permission error occurred while accessing the file system. Affected path: /app/.wrangler/tmp");
    expect(run.stderr).not.toContain("\x1b");
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it("refuses to start, saying why, with an invalid config or without the secrets dir", () => {
    const serve = (dirs: ServeDirs) =>
      spawnSync(process.execPath, ["scripts/serve.ts", "--port", "0", "--config", dirs.config, "--secrets-dir", dirs.secrets, "--state-dir", dirs.state, "--log-dir", dirs.logs], { encoding: "utf8", cwd: new URL("../../", import.meta.url).pathname });
    const invalid = serveDirs({ routes: { default: ["nowhere"] }, providers: {} }, {});
    const bad = serve(invalid);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("nowhere");
    const noSecrets = setup("unused");
    rmSync(noSecrets.secrets, { recursive: true });
    const missing = serve(noSecrets);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`the secrets dir ${noSecrets.secrets} does not exist`);
  });

  it("SIGTERM to the npm run serve process ends it and workerd with exit code 0", async () => {
    const serve = await startServe(setup("npm"), { via: "npm" });
    expect((await chat(serve.url)).status).toBe(200);
    expect(await serve.stop()).toBe(0);
    expect(alive(serve.workerdPid)).toBe(false);
  });
});
