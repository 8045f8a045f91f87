// A small closed-loop load generator: `concurrency` workers each send requests back to back until
// `requests` are done; latencies are read per request (total, and time to first byte for streams).

export interface Sample {
  totalMs: number;
  ttfbMs: number;
  ok: boolean;
}

export interface Summary {
  requests: number;
  concurrency: number;
  errors: number;
  p50_ms: number;
  p99_ms: number;
  ttfb_p50_ms: number;
  ttfb_p99_ms: number;
  rps: number;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

const round = (value: number) => Math.round(value * 1000) / 1000;

/** One request: time to the first body byte and to the end of the body. */
export async function timeRequest(url: string, init: RequestInit): Promise<Sample> {
  const start = performance.now();
  const response = await fetch(url, init);
  const reader = response.body!.getReader();
  let ttfbMs = -1;
  for (;;) {
    const { done } = await reader.read();
    if (ttfbMs < 0) ttfbMs = performance.now() - start;
    if (done) break;
  }
  return { totalMs: performance.now() - start, ttfbMs, ok: response.ok };
}

/** Sends `requests` requests from `concurrency` closed-loop workers (after `warmup` sequential ones). */
export async function collect(send: () => Promise<Sample>, requests: number, concurrency = 1, warmup = 0): Promise<{ samples: Sample[]; elapsedMs: number }> {
  for (let i = 0; i < warmup; i++) await send();
  const samples: Sample[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < requests) samples.push(await send());
    }),
  );
  return { samples, elapsedMs: performance.now() - started };
}

/** Percentiles of a set of samples; `rps` needs the wall time they took (NaN without it). */
export function summarize(samples: Sample[], concurrency = 1, elapsedMs = Number.NaN): Summary {
  const totals = samples.map((s) => s.totalMs).sort((a, b) => a - b);
  const ttfbs = samples.map((s) => s.ttfbMs).sort((a, b) => a - b);
  return {
    requests: samples.length,
    concurrency,
    errors: samples.filter((s) => !s.ok).length,
    p50_ms: round(percentile(totals, 50)),
    p99_ms: round(percentile(totals, 99)),
    ttfb_p50_ms: round(percentile(ttfbs, 50)),
    ttfb_p99_ms: round(percentile(ttfbs, 99)),
    rps: Math.round((samples.length / elapsedMs) * 1000),
  };
}

export async function measure(send: () => Promise<Sample>, requests: number, concurrency: number, warmup = 20): Promise<Summary> {
  const { samples, elapsedMs } = await collect(send, requests, concurrency, warmup);
  return summarize(samples, concurrency, elapsedMs);
}

/** Peak resident memory (VmHWM) of a process and its descendants, in MiB, from /proc. */
export async function peakMemoryMiB(pid: number): Promise<Record<string, number>> {
  const { readFileSync, readdirSync } = await import("node:fs");
  const out: Record<string, number> = {};
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const visit = (id: number) => {
    try {
      const status = readFileSync(`/proc/${id}/status`, "utf8");
      const name = /Name:\s+(\S+)/.exec(status)?.[1] ?? String(id);
      const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      out[name] = Math.round(Math.max(out[name] ?? 0, hwm) * 10) / 10;
    } catch {
      return;
    }
    for (const child of children.get(id) ?? []) visit(child);
  };
  visit(pid);
  return out;
}
