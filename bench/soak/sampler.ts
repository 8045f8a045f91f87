// What the soak watches while it runs: the workerd process's resident memory and CPU time (from
// /proc), and the size on disk of the Durable Object state dir, sampled at a fixed interval.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { cpuMs } from "../workerd.ts";

export interface Sample {
  /** Seconds since the soak started. */
  t_s: number;
  pid: number;
  rss_mib: number;
  cpu_ms: number;
  state_bytes: number;
}

function rssMiB(pid: number): number {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN);
  return Math.round((kib / 1024) * 10) / 10;
}

/** Bytes of every file under `dir` (SQLite files, their WAL and journal included). */
export function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      total += statSync(join(entry.parentPath, entry.name)).size;
    } catch {
      // removed while we looked (a journal)
    }
  }
  return total;
}

/** One sample, or undefined when the process is gone (killed between the pid read and now). */
export function sample(startedAt: number, pid: number, stateDir: string): Sample | undefined {
  try {
    const rss = rssMiB(pid);
    if (Number.isNaN(rss)) return undefined; // a zombie: killed, not yet reaped
    return { t_s: Math.round((Date.now() - startedAt) / 100) / 10, pid, rss_mib: rss, cpu_ms: cpuMs(pid), state_bytes: dirBytes(stateDir) };
  } catch {
    return undefined;
  }
}

/** CPU time of every workerd the samples saw: each process's last sample minus its first. */
export function cpuTotalMs(samples: Sample[]): number {
  const byPid = new Map<number, { first: number; last: number }>();
  for (const s of samples) {
    const seen = byPid.get(s.pid);
    if (seen) seen.last = s.cpu_ms;
    else byPid.set(s.pid, { first: s.cpu_ms, last: s.cpu_ms });
  }
  return [...byPid.values()].reduce((sum, { first, last }) => sum + last - first, 0);
}
