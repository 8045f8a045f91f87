// npm run bench:soak -- --minutes N --concurrency C [--kills K] [--out FILE]
// InferRouter under `npm run serve` (plain workerd, its supervisor) for N minutes: C closed-loop
// clients (JSON, streams, embeddings, streams abandoned half-way; an unlimited key and a metered
// client) against providers that misbehave (bench/soak/setup.ts), with workerd SIGKILLed K times
// (the supervisor restarts it). Prints a report and exits 1 when an invariant fails: the proxy's
// own 5xx, fake successes, lost or doubled terminal log lines, requests the trackers counted twice
// or not at all (see bench/README.md "Soak (issue 21)" for each figure).
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseCommandLine } from "../shared/cli.ts";
import { removeServeDirs, serveDirs, startServe } from "../test/support/serve-process.ts";
import { runClients, type Outcome } from "./soak/clients.ts";
import { checkLog, percentiles, reconcile, type TrackerRow } from "./soak/ledger.ts";
import { startSoakProviders } from "./soak/providers.ts";
import { cpuTotalMs, sample, type Sample } from "./soak/sampler.ts";
import { BEHAVIOURS, KEYS, SECRETS, soakConfig } from "./soak/setup.ts";

const USAGE = `usage: npm run bench:soak -- [--minutes N] [--concurrency C] [--kills K] [--out FILE]
  --minutes N       how long the clients run (default 1; fractions allowed)
  --concurrency C   closed-loop clients (default 16)
  --kills K         times workerd is SIGKILLed during the run, evenly spaced (default 2)
  --out FILE        also write the results as JSON to FILE
  --help            this text
Exits 0 when every invariant holds, 1 when one fails, 2 on bad arguments.`;

function options() {
  try {
    const { values } = parseCommandLine({
      name: "bench:soak",
      usage: USAGE,
      options: {
        minutes: { type: "string", default: "1" },
        concurrency: { type: "string", default: "16" },
        kills: { type: "string", default: "2" },
        out: { type: "string" },
      },
    });
    const minutes = Number(values.minutes);
    const concurrency = Number(values.concurrency);
    const kills = Number(values.kills);
    if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, not ${values.minutes}`);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency must be a whole number of at least 1, not ${values.concurrency}`);
    if (!Number.isInteger(kills) || kills < 0 || kills > 4) throw new Error(`--kills must be a whole number from 0 to 4 (the supervisor gives up after 5 crashes a minute), not ${values.kills}`);
    return { minutes, concurrency, kills, out: values.out };
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const settings = options();
const log = (line: string) => console.error(`soak: ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const durationMs = settings.minutes * 60_000;
const sampleMs = Math.max(1_000, Math.round(durationMs / 150));

const providers = await startSoakProviders(BEHAVIOURS);
const dirs = serveDirs(soakConfig(providers.baseUrl), SECRETS);
const serve = await startServe(dirs, { via: "npm", ignoreStdout: true });
log(`serve up at ${serve.url} (workerd ${serve.workerdPid}); ${settings.concurrency} clients for ${settings.minutes} min, ${settings.kills} kill(s)`);

const workerdPids = () => [serve.workerdPid, ...[...serve.output().matchAll(/workerd restarted \(pid (\d+)\)/g)].map((m) => Number(m[1]))];
const startedAt = Date.now();
const samples: Sample[] = [];
const outcomes: Outcome[] = [];
const kills: Array<{ at_s: number; pid: number; restarted_after_ms: number | null; killAt: number; backAt: number }> = [];
let running = true;

const sampler = setInterval(() => {
  const s = sample(startedAt, workerdPids().at(-1)!, dirs.state);
  if (s) samples.push(s);
}, sampleMs);

/** SIGKILLs the running workerd and waits for the supervisor's restart (its new pid). */
async function killWorkerd() {
  const pids = workerdPids();
  const pid = pids.at(-1)!;
  const last = sample(startedAt, pid, dirs.state);
  if (last) samples.push(last); // its CPU up to the kill
  const killAt = Date.now();
  process.kill(pid, "SIGKILL");
  log(`SIGKILL workerd ${pid}`);
  while (workerdPids().length === pids.length && Date.now() - killAt < 30_000) await sleep(20);
  const backAt = Date.now();
  const restarted = workerdPids().length > pids.length;
  log(restarted ? `workerd restarted as ${workerdPids().at(-1)} after ${backAt - killAt} ms` : "workerd was not restarted within 30 s");
  kills.push({ at_s: Math.round((killAt - startedAt) / 1000), pid, restarted_after_ms: restarted ? backAt - killAt : null, killAt, backAt });
  if (!restarted) running = false;
}

const clients = runClients({ url: () => serve.url, concurrency: settings.concurrency, running: () => running, onOutcome: (o) => outcomes.push(o) });
for (let k = 1; k <= settings.kills && running; k++) {
  await sleep(startedAt + (durationMs * k) / (settings.kills + 1) - Date.now());
  await killWorkerd();
}
await sleep(startedAt + durationMs - Date.now());
running = false;
await clients;
clearInterval(sampler);
const endSample = sample(startedAt, workerdPids().at(-1)!, dirs.state);
if (endSample) samples.push(endSample);
// Background tracker reports (a client's give-back) run after the answer: let them land.
await sleep(1_500);
type Counts = { requests_today: number; requests_not_given_back: number };
const quota = (await (await fetch(`${serve.url}/v1/quota`, { headers: { authorization: `Bearer ${KEYS.admin}` } })).json()) as {
  providers: Record<string, Counts>;
  groups: Record<string, Counts>;
  clients: Record<string, Counts>;
};
const serveExit = await serve.stop();
const serveStderr = serve.output();
await providers.close();
const logLines = readdirSync(dirs.logs).flatMap((name) => readFileSync(join(dirs.logs, name), "utf8").split("\n"));
removeServeDirs();

// --- the books ---------------------------------------------------------------------------
const logCheck = checkLog(logLines);
// A connection error is honest when a kill caused it: from the kill to 2 s after the restart.
const inKill = (o: Outcome) => kills.some((k) => o.endedAt >= k.killAt && o.endedAt <= k.backAt + 2_000);
for (const o of outcomes) {
  if (!o.network) continue;
  if (inKill(o)) o.detail = `${o.detail} (workerd killed)`;
  else Object.assign(o, { result: "malformed", detail: `${o.detail} outside a kill` });
}
const count = (pick: (o: Outcome) => boolean) => outcomes.filter(pick).length;
const byDetail = (result: Outcome["result"]) => {
  const kinds: Record<string, number> = {};
  for (const o of outcomes) if (o.result === result) kinds[o.detail] = (kinds[o.detail] ?? 0) + 1;
  return Object.fromEntries(Object.entries(kinds).sort((a, b) => b[1] - a[1]));
};

// What the client saw against the request's terminal line (when the answer named its request id).
const disagreements: string[] = [];
let withoutStarted = 0;
/** Whole answers the kill came too late to cut but early enough to beat their log line: serve logged them cut. */
let answeredThenCut = 0;
/** Answers that ended in the last second before a kill with no line at all: lines are written after the answer, and a SIGKILL takes what is not out yet. */
let answeredThenKilled = 0;
const justBeforeAKill = (o: Outcome) => kills.some((k) => o.endedAt >= k.killAt - 1_000 && o.endedAt <= k.backAt);
for (const o of outcomes) {
  if (!o.requestId || o.network) continue;
  const terminal = logCheck.terminal.get(o.requestId);
  if (!terminal) {
    if (justBeforeAKill(o)) answeredThenKilled++;
    else withoutStarted++;
    continue;
  }
  if (o.result === "answered" && terminal.reason === "workerd_exited") {
    answeredThenCut++;
    continue;
  }
  const expected = o.result === "answered" ? "infer_completed" : o.result === "failed" ? "infer_failed" : undefined;
  if (expected && terminal.event !== expected) disagreements.push(`${o.marker} ${o.kind}: client ${o.result} (${o.detail}), log ${terminal.event}`);
}

const received = (ids: string[], pick: (marker: string) => boolean = () => true) =>
  new Set(ids.flatMap((id) => [...providers.records.get(id)!.markers].filter(pick))).size;
const failOpen = (ids: string[]) => ids.reduce((sum, id) => sum + (logCheck.trackerUnavailable[id] ?? 0), 0);
const config = soakConfig(providers.baseUrl);
const tracked = Object.entries(config.providers).filter(([, p]) => "requests_per_day" in p || "requests_per_minute" in p || "quota_group" in p);
const metered = new Set(outcomes.filter((o) => o.metered).map((o) => o.marker));
const trackers: TrackerRow[] = [
  ...tracked.map(([id]) => reconcile(`provider ${id}`, quota.providers[id]!.requests_today, received([id]), failOpen([id]), logCheck.cutByKill, quota.providers[id]!.requests_not_given_back)),
  ...Object.keys(config.quota_groups).map((group) => {
    const members = Object.entries(config.providers).filter(([, p]) => (p as { quota_group?: string }).quota_group === group).map(([id]) => id);
    return reconcile(`group ${group}`, quota.groups[group]!.requests_today, members.reduce((sum, id) => sum + received([id]), 0), failOpen(members), logCheck.cutByKill, quota.groups[group]!.requests_not_given_back);
  }),
  reconcile("client metered", quota.clients.metered!.requests_today, received(Object.keys(BEHAVIOURS), (m) => metered.has(m)), (logCheck.trackerUnavailable[""] ?? 0) + (logCheck.trackerUnavailable.metered ?? 0), logCheck.cutByKill, quota.clients.metered!.requests_not_given_back),
];

const cpuMs = cpuTotalMs(samples);
const latency = (pick: (o: Outcome) => boolean) => percentiles(outcomes.filter(pick).map((o) => o.endedAt - o.startedAt));
const invariants = [
  { name: "the proxy's own 5xx", value: count((o) => o.result === "proxy_5xx") },
  { name: "fake successes (a 200 that is not a whole answer)", value: count((o) => o.result === "fake_success") },
  { name: "malformed errors, connection errors outside a kill", value: count((o) => o.result === "malformed") },
  { name: "requests that hung (no end in 30 s)", value: count((o) => o.result === "hung") },
  { name: "infer_started without a terminal line", value: logCheck.missing.length },
  { name: "infer_started with two or more terminal lines", value: logCheck.duplicate.length },
  { name: "terminal lines without infer_started", value: logCheck.orphan.length },
  { name: "unreadable log lines", value: logCheck.unreadable },
  { name: "answers whose request id has no log line", value: withoutStarted },
  { name: "client and log disagree (success vs failure)", value: disagreements.length },
  { name: "tracker: received, not counted", value: trackers.reduce((sum, t) => sum + t.not_counted, 0) },
  { name: "tracker: counted twice or never sent", value: trackers.reduce((sum, t) => sum + t.counted_twice_or_never_sent, 0) },
  { name: "kills the supervisor did not restart", value: kills.filter((k) => k.restarted_after_ms === null).length },
  { name: "serve's exit code after SIGTERM", value: serveExit ?? -1 },
];
const failed = invariants.filter((i) => i.value !== 0);
if (!count((o) => o.result === "answered")) failed.push({ name: "no request was answered", value: 0 });

// Memory and storage over time: each workerd's own samples (a restart starts a new one).
const byPid = [...new Set(samples.map((s) => s.pid))].map((pid) => {
  const own = samples.filter((s) => s.pid === pid);
  const warm = own[Math.floor(own.length / 4)] ?? own[0]!;
  return { pid, from_s: own[0]!.t_s, to_s: own.at(-1)!.t_s, rss_mib_first: own[0]!.rss_mib, rss_mib_after_warmup: warm.rss_mib, rss_mib_end: own.at(-1)!.rss_mib, rss_mib_max: Math.max(...own.map((s) => s.rss_mib)) };
});
const results = {
  machine: { cpus: cpus().length, memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version, runtime: "plain workerd under npm run serve" },
  settings: { ...settings, sample_ms: sampleMs },
  requests: outcomes.length,
  answered: count((o) => o.result === "answered"),
  disconnected_by_client: count((o) => o.result === "disconnected"),
  honest_failures: byDetail("failed"),
  not_allowed: { proxy_5xx: byDetail("proxy_5xx"), fake_success: byDetail("fake_success"), malformed: byDetail("malformed"), hung: byDetail("hung") },
  disagreements: disagreements.slice(0, 20),
  // The first requests that broke an invariant, with what workerd said on stderr (its errors).
  not_allowed_requests: outcomes.filter((o) => !["answered", "failed", "disconnected"].includes(o.result)).slice(0, 20).map((o) => ({ ...o, at_s: (o.startedAt - startedAt) / 1000 })),
  workerd_stderr: serveStderr.split("\n").filter((line) => line.startsWith("workerd:")).slice(-40),
  answered_then_logged_cut_by_kill: answeredThenCut,
  answered_then_unlogged_by_kill: answeredThenKilled,
  log: { events: logCheck.events, started: logCheck.started, missing: logCheck.missing.slice(0, 20), duplicate: logCheck.duplicate.slice(0, 20), orphan: logCheck.orphan.slice(0, 20), cut_by_kill: logCheck.cutByKill, tracker_unavailable: logCheck.trackerUnavailable },
  trackers,
  provider_calls: Object.fromEntries([...providers.records].map(([id, r]) => [id, { calls: r.calls, requests: r.markers.size, behaviours: r.behaviours }])),
  latency_ms: { answered: latency((o) => o.result === "answered"), json: latency((o) => o.result === "answered" && o.kind === "json"), stream: latency((o) => o.result === "answered" && o.kind === "stream"), embeddings: latency((o) => o.result === "answered" && o.kind === "embeddings") },
  cpu_ms_per_request: Math.round((cpuMs / Math.max(1, logCheck.started)) * 1000) / 1000,
  workerd: byPid,
  kills: kills.map(({ killAt: _, backAt: __, ...k }) => k),
  samples: samples.map(({ t_s, pid, rss_mib, state_bytes }) => ({ t_s, pid, rss_mib, state_kib: Math.round(state_bytes / 1024) })),
  invariants: invariants.map((i) => ({ ...i, ok: i.value === 0 })),
};
if (settings.out) writeFileSync(settings.out, `${JSON.stringify(results, null, 2)}\n`);

const rows = (pairs: Array<[string, unknown]>) => pairs.map(([k, v]) => `| ${k} | ${v} |`).join("\n");
const series = samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / 12)) === 0 || i === samples.length - 1);
console.log(`## Soak: ${settings.minutes} min, ${settings.concurrency} clients, ${settings.kills} kill(s)

| figure | value |
| --- | --- |
${rows([
  ["requests", results.requests],
  ["answered", results.answered],
  ["disconnected by the client (on purpose)", results.disconnected_by_client],
  ...Object.entries(results.honest_failures).map(([k, v]) => [`honest failure: ${k}`, v] as [string, unknown]),
  ["latency of answers p50 / p99 (ms)", `${results.latency_ms.answered.p50_ms} / ${results.latency_ms.answered.p99_ms}`],
  ["CPU per request (workerd process CPU / requests logged)", `${results.cpu_ms_per_request} ms`],
  ["kills: restarted after (ms)", kills.map((k) => k.restarted_after_ms ?? "never").join(", ") || "none"],
  ["requests cut by the kills (infer_cancelled workerd_exited)", logCheck.cutByKill],
  ["of which the client had the whole answer (the line was not out yet)", answeredThenCut],
  ["answers in the last second before a kill whose lines it took (allowance)", answeredThenKilled],
  ["workerd RSS MiB per process: after warm-up → end (max)", byPid.map((p) => `${p.rss_mib_after_warmup} → ${p.rss_mib_end} (${p.rss_mib_max})`).join("; ")],
  ["Durable Object state on disk (KiB): start → max → end", `${Math.round(samples[0]!.state_bytes / 1024)} → ${Math.round(Math.max(...samples.map((s) => s.state_bytes)) / 1024)} → ${Math.round(samples.at(-1)!.state_bytes / 1024)}`],
])}

| tracker | counted | received | not counted | counted twice or never sent | fail-open logged | cut by kills (allowance) | leased, never given back (allowance) |
| --- | --- | --- | --- | --- | --- | --- | --- |
${trackers.map((t) => `| ${t.tracker} | ${t.counted} | ${t.received} | ${t.not_counted} | ${t.counted_twice_or_never_sent} | ${t.fail_open} | ${t.cut_by_kill} | ${t.not_given_back} |`).join("\n")}

| t (s) | workerd pid | RSS MiB | DO state KiB |
| --- | --- | --- | --- |
${series.map((s) => `| ${s.t_s} | ${s.pid} | ${s.rss_mib} | ${Math.round(s.state_bytes / 1024)} |`).join("\n")}

| invariant (must be 0) | value |
| --- | --- |
${rows(invariants.map((i) => [i.name, i.value === 0 ? "0" : `**${i.value}**`]))}
`);
if (disagreements.length) log(`disagreements, first ones:\n  ${disagreements.slice(0, 10).join("\n  ")}`);
if (failed.length) {
  log(`FAILED: ${failed.map((i) => `${i.name} = ${i.value}`).join("; ")}`);
  process.exit(1);
}
log("every invariant holds");
