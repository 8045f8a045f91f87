// npm run bench:distance: what a far-away quota tracker costs a request, before and after leases
// (issue 21). Under plain workerd, as `npm run serve` runs the Worker: ISOLATES edge Worker services
// (each its own isolate, as Cloudflare runs a Worker in many places at once), one socket each, all
// bound to one tracker namespace in another service, whose tracker answers every call
// TRACKER_DELAY_MS later (bench/distance-tracker.ts, bench-only: the distance).
//
// Per tracker delay (0, 50, 150 ms) and mode:
// - before: the wrapper grants no spare admissions (TRACKER_LEASES=off), so every request to a
//   provider with limits waits for its admit call, as before leases (f68f8eb);
// - after: leases, as shipped.
// Requests alternate between a route with limits and the same provider without (no tracker call),
// from CONCURRENCY closed-loop clients over the isolates round-robin, after a warm-up (steady
// state). Added latency = a percentile of the limited requests minus the same percentile of the
// unlimited ones, same run; tracker_waits and tracker_ms come from each limited request's terminal
// log line (by its x-request-id).
//
// Exact limits across the isolates: BURST concurrent requests at a provider with
// requests_per_minute = RPM, every case; and in the "after" 50 ms case a sustained run of
// EXACT_SECONDS (past one window) that starts with that burst. The provider records when each
// call arrives; the most calls in any 60 s must be at most RPM, else the bench exits 1.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { createServer as createNetServer } from "node:net";
import { cpus, tmpdir, totalmem } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { parseCommandLine } from "../shared/cli.ts";
import { startWorkerd, type WorkerdProcess } from "../scripts/serve/workerd-process.ts";
import { bundleWorker, type WorkerProject } from "../scripts/serve/worker-project.ts";
import { percentile } from "./load.ts";

const USAGE = `usage: npm run bench:distance -- [--requests N] [--concurrency C] [--isolates I] [--rpm R] [--burst N] [--exact-seconds S] [--out FILE] [--only CASES]
  --requests N        measured requests per case, half with limits, half without (default 400)
  --concurrency C     closed-loop clients (default 6)
  --isolates I        edge Worker services (isolates) bound to the one tracker namespace (default 3)
  --rpm R             requests_per_minute of the exactness provider (default 40)
  --burst N           concurrent requests at it, over the isolates (default 120)
  --exact-seconds S   the sustained exactness runs, at 50 ms (default 62; 0 skips them)
  --out FILE          where the results JSON goes (default bench/distance-results.json)
  --only CASES        run only these cases, e.g. after-50,before-150 (default: all six)
  --help              this text
Prints a Markdown table; exits 1 when a limit was passed (or requests failed), 2 on bad arguments.`;

const { values } = parseCommandLine({
  name: "bench:distance",
  usage: USAGE,
  options: {
    requests: { type: "string", default: "400" },
    concurrency: { type: "string", default: "6" },
    isolates: { type: "string", default: "3" },
    rpm: { type: "string", default: "40" },
    burst: { type: "string", default: "120" },
    "exact-seconds": { type: "string", default: "62" },
    out: { type: "string", default: "bench/distance-results.json" },
    only: { type: "string" },
  },
});
const whole = (name: string, text: string, min: number) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    console.error(`--${name} must be a whole number of at least ${min}, not ${text}\n${USAGE}`);
    process.exit(2);
  }
  return value;
};
const REQUESTS = whole("requests", values.requests, 2);
const CONCURRENCY = whole("concurrency", values.concurrency, 1);
const ISOLATES = whole("isolates", values.isolates, 1);
const RPM = whole("rpm", values.rpm, 1);
const BURST = whole("burst", values.burst, 1);
const EXACT_SECONDS = whole("exact-seconds", values["exact-seconds"], 0);
const DELAYS = [0, 50, 150];
const MODES = ["before", "after"] as const;
type Mode = (typeof MODES)[number];
const KEY = "sk-bench";
const WINDOW_MS = 60_000;
/** The warm-up before each case's counted requests: leases reach their steady size. */
const WARM_MS = 3_000;
/** Where the 5 % target applies: the added p50 of the "after" rows. */
const TARGET_SHARE = 0.05;

const root = new URL("../", import.meta.url).pathname;
const round1 = (value: number) => Math.round(value * 10) / 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => console.error(`distance: ${line}`);
/** A Cap'n Proto text string literal (nothing here has control characters). */
const str = (value: string) => JSON.stringify(value);

// --- the provider (bench/distance-provider.ts, a child process): records when each call arrived ---

interface Provider {
  url: string;
  arrivals(id: string): Promise<number[]>;
  close(): Promise<void>;
}

async function startProvider(): Promise<Provider> {
  const child = spawn(process.execPath, [join(root, "bench/distance-provider.ts")], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolvePort, reject) => {
    child.stdout!.once("data", (chunk: Buffer) => resolvePort(Number(chunk.toString().trim())));
    child.once("exit", (code) => reject(new Error(`the provider exited (${code})`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    arrivals: async (id) => (await (await fetch(`${url}/_arrivals/${id}`)).json()) as number[],
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The most arrivals in any window of `windowMs` (half-open), sliding over the arrivals. */
function maxInWindow(times: number[], windowMs = WINDOW_MS): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let start = 0, end = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end]! < sorted[start]! + windowMs) end++;
    max = Math.max(max, end - start);
  }
  return max;
}

// --- workerd: ISOLATES edge services and the delayed tracker service ---

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function routerConfig(provider: Provider, exactIds: string[]) {
  const at = (id: string, extra: Record<string, unknown> = {}) => ({
    type: "openai_compatible",
    base_url: `${provider.url}/s/${id}/v1`,
    model: "bench-model",
    api_key_secret: "BENCH_KEY",
    ...extra,
  });
  return {
    routes: { direct: ["p"], limited: ["pl"], ...Object.fromEntries(exactIds.map((id) => [id, [id]])) },
    providers: {
      p: at("p"),
      // Limits that are never reached: every request is admitted, through a tracker call or a lease.
      pl: at("pl", { requests_per_minute: 1_000_000, requests_per_day: 1_000_000_000 }),
      // No retry: one call per admission, so the provider's arrivals are the admissions used.
      ...Object.fromEntries(exactIds.map((id) => [id, at(id, { requests_per_minute: RPM, retries: 0 })])),
    },
  };
}

interface Bundles {
  edge: WorkerProject;
  tracker: WorkerProject;
}

function modules(dir: string, project: WorkerProject): string {
  const embed = (file: string) => str(relative(dir, join(project.modulePath, "..", file)));
  const entry = basename(project.modulePath);
  return [
    `(name = ${str(entry)}, esModule = embed ${embed(entry)})`,
    ...(project.textModules ?? []).map((name) => `(name = ${str(name)}, text = embed ${embed(name)})`),
  ].join(", ");
}

/** The workerd config: edge services edge0.. (sockets http, http1, ..) and the tracker service they share. */
function workerdConfig(dir: string, bundles: Bundles, router: unknown, mode: Mode, delayMs: number, ports: number[]): string {
  const { edge, tracker } = bundles;
  const edgeVars = { ...edge.vars, ROUTER_CONFIG: router, PROXY_API_KEYS: KEY, BENCH_KEY: "sk-bench-upstream" };
  const edgeBindings = [
    ...Object.entries(edgeVars).map(([name, value]) =>
      typeof value === "string" ? `(name = ${str(name)}, text = ${str(value)})` : `(name = ${str(name)}, json = ${str(JSON.stringify(value))})`,
    ),
    ...edge.durableObjects.map((d) => `(name = ${str(d.binding)}, durableObjectNamespace = (className = ${str(tracker.durableObjects.find((t) => t.binding === d.binding)!.className)}, serviceName = "tracker"))`),
  ];
  const edgeService = (index: number) => `(name = "edge${index}", worker = (
      modules = [${modules(dir, edge)}],
      compatibilityDate = ${str(edge.compatibilityDate)},
      compatibilityFlags = [${edge.compatibilityFlags.map(str).join(", ")}],
      bindings = [${edgeBindings.join(", ")}],
      globalOutbound = "internet",
    ))`;
  const trackerService = `(name = "tracker", worker = (
      modules = [${modules(dir, tracker)}],
      compatibilityDate = ${str(tracker.compatibilityDate)},
      compatibilityFlags = [${tracker.compatibilityFlags.map(str).join(", ")}],
      bindings = [${tracker.durableObjects.map((d) => `(name = ${str(d.binding)}, durableObjectNamespace = ${str(d.className)})`).join(", ")}, (name = "TRACKER_DELAY_MS", text = ${str(String(delayMs))}), (name = "TRACKER_LEASES", text = ${str(mode === "before" ? "off" : "on")}), (name = "TRACKER_LOG_RPM", text = ${str(String(RPM))})],
      durableObjectNamespaces = [${tracker.durableObjects.map((d) => `(className = ${str(d.className)}, uniqueKey = ${str(`distance-${d.className}`)}, enableSql = ${d.sql})`).join(", ")}],
      durableObjectStorage = (localDisk = "state"),
    ))`;
  const services = [
    ...ports.map((_, index) => edgeService(index)),
    trackerService,
    `(name = "internet", network = (allow = ["public", "local"]))`,
    `(name = "state", disk = (path = ${str(join(dir, "state"))}, writable = true))`,
  ];
  const sockets = ports.map((port, index) => `(name = ${str(index === 0 ? "http" : `http${index}`)}, address = ${str(`127.0.0.1:${port}`)}, http = (), service = "edge${index}")`);
  return `# Generated by bench/distance.ts.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ${services.join(",\n    ")},
  ],
  sockets = [${sockets.join(", ")}],
  structuredLogging = true,
);
`;
}

interface Terminal {
  event: string;
  route: string;
  tracker_waits?: number;
  tracker_ms?: number;
}

/** What the delayed tracker granted at the exactness provider (its distance_grant lines), on its own clock. */
interface Grant {
  at: number;
  own: number;
  leased: number;
}

interface Running {
  urls: string[];
  workerd: WorkerdProcess;
  terminals: Map<string, Terminal>;
  grants: Grant[];
  /** quota_unavailable lines: a tracker call that failed open (would admit past the limit). */
  failedOpen: number;
  stop(): Promise<void>;
}

async function startIsolates(work: string, name: string, bundles: Bundles, router: unknown, mode: Mode, delayMs: number): Promise<Running> {
  const dir = join(work, name);
  mkdirSync(join(dir, "state"), { recursive: true });
  const ports = await Promise.all(Array.from({ length: ISOLATES }, freePort));
  const configPath = join(dir, "config.capnp");
  writeFileSync(configPath, workerdConfig(dir, bundles, router, mode, delayMs, ports));
  const terminals = new Map<string, Terminal>();
  const grants: Grant[] = [];
  let failedOpen = 0;
  const workerd = await startWorkerd({
    configPath,
    address: `127.0.0.1:${ports[0]}`,
    onConsole: (message) => {
      if (!message.startsWith("{")) return;
      if (message.startsWith('{"distance_grant"')) return void grants.push((JSON.parse(message) as { distance_grant: Grant }).distance_grant);
      if (message.includes('"quota_unavailable"')) failedOpen++;
      if (!message.includes('"infer_')) return;
      try {
        const line = JSON.parse(message) as Terminal & { request_id?: string };
        if (line.request_id && (line.event === "infer_completed" || line.event === "infer_failed" || line.event === "infer_cancelled")) terminals.set(line.request_id, line);
      } catch {
        // not an operation-log line
      }
    },
  });
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  // startWorkerd waits for the first socket only.
  for (const url of urls.slice(1)) {
    for (let tries = 0; ; tries++) {
      try {
        await (await fetch(`${url}/`)).arrayBuffer();
        break;
      } catch (error) {
        if (tries > 100) throw error;
        await sleep(50);
      }
    }
  }
  return {
    urls,
    workerd,
    terminals,
    grants,
    get failedOpen() {
      return failedOpen;
    },
    stop: async () => {
      await workerd.stop(2_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- clients ---

interface Sent {
  route: string;
  ms: number;
  status: number;
  requestId: string | null;
}

const REQUEST_BODY = (route: string) => JSON.stringify({ model: route, messages: [{ role: "user", content: "Say hello" }] });

async function send(url: string, route: string): Promise<Sent> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: REQUEST_BODY(route),
  });
  await res.arrayBuffer();
  return { route, ms: performance.now() - started, status: res.status, requestId: res.headers.get("x-request-id") };
}

/** `requests` requests from CONCURRENCY closed-loop clients, routes in turn, isolates round-robin. */
async function load(urls: string[], routes: string[], requests: number): Promise<Sent[]> {
  const sent: Sent[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests) {
        const n = next++;
        sent.push(await send(urls[n % urls.length]!, routes[n % routes.length]!));
      }
    }),
  );
  return sent;
}

// --- one case ---

interface Exactness {
  kind: "burst" | "sustained";
  requests: number;
  seconds: number;
  requests_per_minute: number;
  provider_calls: number;
  max_in_any_60s: number;
  ok: boolean;
  /** Tracker calls that failed open during the run (0: every admission was the tracker's). */
  failed_open: number;
  /** Admissions the tracker granted (own + leased; leased ones not used go back), and over how long on its clock. */
  tracker_granted: number;
  tracker_grant_spread_ms: number;
  /** Sustained: when the first window reopened, after its first admission, on the tracker's clock and at the provider. */
  tracker_reopen_ms?: number;
  provider_reopen_ms?: number;
  /**
   * From the tracker's first grant to the provider's first arrival (one host clock): how long the
   * first admitted request took from its stamp to the provider; sustained, also for the second window.
   */
  first_grant_to_arrival_ms: number | null;
  /** The burst's admitted requests (200s): their terminal lines' tracker_ms, p50 and max (how long they waited for the answer). */
  burst_admitted_tracker_ms: { p50: number; max: number } | null;
  reopen_grant_to_arrival_ms?: number | null;
  /** When each provider call arrived, in ms after the first. */
  arrivals_ms: number[];
}

interface CaseResult {
  delay_ms: number;
  mode: Mode;
  isolates: number;
  requests: number;
  errors: number;
  /** The rate each isolate admitted requests with limits at while measured (what a lease must cover during a renewal). */
  limited_per_second_per_isolate: number;
  limited_p50_ms: number;
  limited_p99_ms: number;
  unlimited_p50_ms: number;
  unlimited_p99_ms: number;
  added_p50_ms: number;
  added_p99_ms: number;
  /** From the limited requests' terminal lines. */
  lines: number;
  tracker_waits_per_request: number;
  requests_that_waited: number;
  tracker_ms_p50: number;
  tracker_ms_p99: number;
  /** The warm-up's first limited request per isolate: the no-lease path, waited in both modes. */
  first_request_tracker_ms: number[];
  target_p50_ms?: number;
  target_met?: boolean;
  exactness: Exactness[];
}

/** BURST requests at once at `route` over the isolates, then (seconds > 0) CONCURRENCY clients until `seconds` have passed. */
async function exactRun(running: Running, provider: Provider, route: string, seconds: number): Promise<Exactness> {
  const { urls } = running;
  running.grants.length = 0;
  const failedBefore = running.failedOpen;
  const started = performance.now();
  const sent: Sent[] = await Promise.all(Array.from({ length: BURST }, (_, i) => send(urls[i % urls.length]!, route)));
  const burstAdmitted = sent.filter((s) => s.status === 200).map((s) => s.requestId);
  if (seconds > 0) {
    let n = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() - started < seconds * 1_000) {
          sent.push(await send(urls[n++ % urls.length]!, route));
          await sleep(20);
        }
      }),
    );
  }
  await sleep(200);
  const calls = await provider.arrivals(route);
  const max = maxInWindow(calls);
  const burstTrackerMs = burstAdmitted
    .flatMap((id) => (id && running.terminals.get(id)?.tracker_ms !== undefined ? [running.terminals.get(id)!.tracker_ms!] : []))
    .sort((a, b) => a - b);
  const grantTimes = running.grants.map((g) => g.at).sort((a, b) => a - b);
  /** The first time after `first` + 30 s (the second window's first), less `first`. */
  const reopen = (times: number[]) => {
    const later = times.find((t) => t >= times[0]! + WINDOW_MS / 2);
    return later === undefined ? undefined : later - times[0]!;
  };
  const secondLag = (grants: number[], arrivals: number[]) => {
    const grant = grants.find((t) => t >= grants[0]! + WINDOW_MS / 2);
    const arrival = arrivals.find((t) => t >= arrivals[0]! + WINDOW_MS / 2);
    return grant === undefined || arrival === undefined ? null : arrival - grant;
  };
  const result: Exactness = {
    kind: seconds > 0 ? "sustained" : "burst",
    requests: sent.length,
    seconds: round1((performance.now() - started) / 1_000),
    requests_per_minute: RPM,
    provider_calls: calls.length,
    max_in_any_60s: max,
    ok: max <= RPM && calls.length > 0,
    failed_open: running.failedOpen - failedBefore,
    tracker_granted: running.grants.reduce((sum, g) => sum + g.own + g.leased, 0),
    tracker_grant_spread_ms: grantTimes.length ? grantTimes.at(-1)! - grantTimes[0]! : 0,
    burst_admitted_tracker_ms: burstTrackerMs.length ? { p50: round1(percentile(burstTrackerMs, 50)), max: round1(burstTrackerMs.at(-1)!) } : null,
    first_grant_to_arrival_ms: grantTimes.length && calls.length ? calls[0]! - grantTimes[0]! : null,
    ...(seconds > 0 ? { tracker_reopen_ms: reopen(grantTimes), provider_reopen_ms: reopen(calls), reopen_grant_to_arrival_ms: secondLag(grantTimes, calls) } : {}),
    arrivals_ms: calls.map((at) => at - calls[0]!),
  };
  const statuses = new Map<number, number>();
  for (const s of sent) statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
  log(`  exactness ${result.kind}: ${sent.length} requests (${[...statuses].map(([status, count]) => `${count}× ${status}`).join(", ")}), ${calls.length} provider calls, ${max} in the busiest 60 s (limit ${RPM}); ` +
      `tracker granted ${result.tracker_granted} over ${result.tracker_grant_spread_ms} ms, ${result.failed_open} failed open, first grant to first arrival ${result.first_grant_to_arrival_ms} ms, ` +
      `admitted burst requests waited ${result.burst_admitted_tracker_ms?.p50} ms p50 (max ${result.burst_admitted_tracker_ms?.max}) for the tracker` +
      (seconds > 0 ? `; reopened ${result.tracker_reopen_ms} ms after the first admission (tracker clock), ${result.provider_reopen_ms} ms after the first arrival (provider), grant to arrival ${result.reopen_grant_to_arrival_ms} ms` : ""));
  return result;
}

async function measureCase(work: string, bundles: Bundles, provider: Provider, mode: Mode, delayMs: number): Promise<CaseResult> {
  const name = `${mode}-${delayMs}`;
  const sustained = delayMs === 50 && EXACT_SECONDS > 0;
  const exactIds = [`rx-${name}`, ...(sustained ? [`rxs-${name}`] : [])];
  const running = await startIsolates(work, name, bundles, routerConfig(provider, exactIds), mode, delayMs);
  try {
    const { urls, terminals } = running;
    // Warm-up: each isolate's first limited request (no lease yet), then both routes under load.
    const first = await Promise.all(urls.map((url) => send(url, "limited")));
    // A lease is sized by the demand of the last LEASE_MS (2 s): past that, the leases are steady.
    const warmUntil = performance.now() + WARM_MS;
    while (performance.now() < warmUntil) await load(urls, ["direct", "limited"], CONCURRENCY * 4);
    const measuring = performance.now();
    const sent = await load(urls, ["direct", "limited"], REQUESTS);
    const seconds = (performance.now() - measuring) / 1_000;
    await sleep(300); // the last lines leave through waitUntil
    const errors = sent.filter((s) => s.status !== 200).length + first.filter((s) => s.status !== 200).length;
    const limited = sent.filter((s) => s.route === "limited");
    const ms = (route: string) => sent.filter((s) => s.route === route).map((s) => s.ms).sort((a, b) => a - b);
    const [lim, unl] = [ms("limited"), ms("direct")];
    const lines = limited.flatMap((s) => (s.requestId && terminals.get(s.requestId)?.tracker_waits !== undefined ? [terminals.get(s.requestId)!] : []));
    const waits = lines.map((l) => l.tracker_waits!);
    const trackerMs = lines.map((l) => l.tracker_ms ?? 0).sort((a, b) => a - b);
    const result: CaseResult = {
      delay_ms: delayMs,
      mode,
      isolates: ISOLATES,
      requests: sent.length,
      errors,
      limited_per_second_per_isolate: round1(limited.length / seconds / ISOLATES),
      limited_p50_ms: round1(percentile(lim, 50)),
      limited_p99_ms: round1(percentile(lim, 99)),
      unlimited_p50_ms: round1(percentile(unl, 50)),
      unlimited_p99_ms: round1(percentile(unl, 99)),
      added_p50_ms: round1(percentile(lim, 50) - percentile(unl, 50)),
      added_p99_ms: round1(percentile(lim, 99) - percentile(unl, 99)),
      lines: lines.length,
      tracker_waits_per_request: Math.round((waits.reduce((a, b) => a + b, 0) / Math.max(1, waits.length)) * 1000) / 1000,
      requests_that_waited: waits.filter((w) => w > 0).length,
      tracker_ms_p50: round1(percentile(trackerMs, 50)),
      tracker_ms_p99: round1(percentile(trackerMs, 99)),
      first_request_tracker_ms: first.map((s) => (s.requestId ? (terminals.get(s.requestId)?.tracker_ms ?? Number.NaN) : Number.NaN)),
      exactness: [],
    };
    if (delayMs > 0 && mode === "after") {
      result.target_p50_ms = round1(delayMs * TARGET_SHARE);
      result.target_met = result.added_p50_ms < result.target_p50_ms;
    }
    log(
      `${name}: ${sent.length} requests (${errors} errors, ${result.limited_per_second_per_isolate} limited/s per isolate), added p50 ${result.added_p50_ms} ms, p99 ${result.added_p99_ms} ms; ` +
        `tracker_waits ${result.tracker_waits_per_request}/request (${result.requests_that_waited} of ${lines.length} waited), tracker_ms p50 ${result.tracker_ms_p50}`,
    );
    result.exactness.push(await exactRun(running, provider, exactIds[0]!, 0));
    if (sustained) result.exactness.push(await exactRun(running, provider, exactIds[1]!, EXACT_SECONDS));
    return result;
  } finally {
    await running.stop();
  }
}

// --- the run ---

const startedAt = Date.now();
const work = mkdtempSync(join(tmpdir(), "inferrouter-distance-"));
const provider = await startProvider();
const results: CaseResult[] = [];
try {
  log("bundling the edge Worker and the delayed tracker (wrangler deploy --dry-run)...");
  const bundles: Bundles = {
    edge: bundleWorker(join(root, "wrangler.toml"), join(work, "bundle-edge")),
    tracker: bundleWorker(join(root, "bench/distance-tracker.wrangler.toml"), join(work, "bundle-tracker")),
  };
  for (const delay of DELAYS) for (const mode of MODES) if (!values.only || values.only.split(",").includes(`${mode}-${delay}`)) results.push(await measureCase(work, bundles, provider, mode, delay));
} finally {
  await provider.close();
  rmSync(work, { recursive: true, force: true });
}

const exactOk = results.every((r) => r.exactness.every((e) => e.ok));
const errors = results.reduce((sum, r) => sum + r.errors, 0);
const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
const out = {
  generated_at: new Date().toISOString(),
  seconds: round1((Date.now() - startedAt) / 1_000),
  machine: `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  settings: { requests: REQUESTS, concurrency: CONCURRENCY, isolates: ISOLATES, requests_per_minute: RPM, burst: BURST, exact_seconds: EXACT_SECONDS },
  exact_ok: exactOk,
  results,
};
writeFileSync(resolve(values.out), `${JSON.stringify(out, null, 2)}\n`);

const exactCell = (r: CaseResult) =>
  r.exactness
    .map(
      (e) =>
        `${e.kind} (${e.requests} requests, ${e.seconds} s): ${e.max_in_any_60s} ${e.ok ? "≤" : "> **violated**"} ${e.requests_per_minute}` +
        (e.tracker_reopen_ms !== undefined ? `, window reopened after ${e.tracker_reopen_ms} ms on the tracker's clock, ${e.provider_reopen_ms} ms at the provider` : ""),
    )
    .join("; ");
const target = (r: CaseResult) => (r.target_p50_ms === undefined ? "" : `< ${r.target_p50_ms}: ${r.target_met ? "met" : "missed"}`);
console.log(
  [
    `Distance bench: ${ISOLATES} edge isolates under plain workerd, one tracker namespace; ${CONCURRENCY} closed-loop clients; ${REQUESTS} requests a case (half with limits); ${out.machine}; ${out.generated_at}.`,
    "",
    "| tracker delay ms | mode | requests | added p50 ms | added p99 ms | target (5 % of delay) | tracker_waits / request | tracker_ms p50 | max provider calls in any 60 s vs R (across isolates) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...results.map(
      (r) =>
        `| ${r.delay_ms} | ${r.mode} | ${r.requests} | ${r.added_p50_ms} | ${r.added_p99_ms} | ${target(r)} | ${r.tracker_waits_per_request} | ${r.tracker_ms_p50} | ${exactCell(r)} |`,
    ),
  ].join("\n"),
);
if (errors) console.error(`distance: ${errors} requests failed (not 200)`);
if (!exactOk) console.error("distance: a provider was reached more than requests_per_minute times in a 60 s window");
process.exit(exactOk && !errors ? 0 : 1);
