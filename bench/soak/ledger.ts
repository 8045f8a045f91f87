// The soak's books: what the operation log, the trackers and the providers say happened, checked
// against each other. Pure functions over what the soak collected, so a test can feed them a log
// with a lost or doubled line and see it caught.
import { percentile } from "../load.ts";
import { TERMINAL_EVENTS, type EventName, type InferEvent } from "../../shared/events.ts";

export interface LogCheck {
  /** Lines per event name. */
  events: Record<string, number>;
  started: number;
  /** infer_started without a terminal line. */
  missing: string[];
  /** infer_started with more than one terminal line. */
  duplicate: string[];
  /** Terminal lines without an infer_started. */
  orphan: string[];
  /** Lines that are not JSON events. */
  unreadable: number;
  /** The terminal event of each request id. */
  terminal: Map<string, InferEvent>;
  /** Requests serve ended because workerd went away under them (the kills). */
  cutByKill: number;
  /** quota_unavailable lines by provider id ("" for the client tracker's own admission). */
  trackerUnavailable: Record<string, number>;
}

export function checkLog(lines: Iterable<string>): LogCheck {
  const check: LogCheck = { events: {}, started: 0, missing: [], duplicate: [], orphan: [], unreadable: 0, terminal: new Map(), cutByKill: 0, trackerUnavailable: {} };
  const started = new Set<string>();
  const terminals = new Map<string, number>();
  for (const line of lines) {
    if (!line.trim()) continue;
    let event: InferEvent;
    try {
      event = JSON.parse(line) as InferEvent;
    } catch {
      check.unreadable++;
      continue;
    }
    check.events[event.event] = (check.events[event.event] ?? 0) + 1;
    if (event.event === "quota_unavailable") {
      const key = event.provider ?? "";
      check.trackerUnavailable[key] = (check.trackerUnavailable[key] ?? 0) + 1;
    } else if (event.event === "infer_started") {
      started.add(event.request_id);
    } else if (TERMINAL_EVENTS.has(event.event as EventName)) {
      terminals.set(event.request_id, (terminals.get(event.request_id) ?? 0) + 1);
      check.terminal.set(event.request_id, event);
      if (event.reason === "workerd_exited") check.cutByKill++;
    }
  }
  check.started = started.size;
  for (const id of started) {
    const count = terminals.get(id) ?? 0;
    if (count === 0) check.missing.push(id);
    if (count > 1) check.duplicate.push(id);
  }
  for (const id of terminals.keys()) if (!started.has(id)) check.orphan.push(id);
  return check;
}

export interface TrackerRow {
  tracker: string;
  /** What the tracker counted (GET /v1/quota requests_today). */
  counted: number;
  /** Distinct soak requests the provider(s) behind it received. */
  received: number;
  /** Received but not counted, beyond what a logged fail-open (quota_unavailable) explains: must be 0. */
  not_counted: number;
  /** Counted but never received, beyond the requests a kill cut between admission and call: must be 0. */
  counted_twice_or_never_sent: number;
  /** The allowances used: fail-open admissions logged, requests the kills cut, leases no isolate gave back. */
  fail_open: number;
  cut_by_kill: number;
  not_given_back: number;
}

/**
 * One tracker's books. A request the tracker admitted is one count, however many calls (retries,
 * a continuation) it made to the provider, so `received` counts distinct requests. Two differences
 * are honest and logged: a fail-open admission (the tracker did not answer: called, not counted)
 * and a request a kill cut after its admission was stored and before its call left (counted,
 * never received); a client tracker's give-back that could not be stored is logged as a fail-open
 * too. A lease is counted when granted, so the spares of an isolate a kill stopped stay counted:
 * the tracker reports them (requests_not_given_back, read after the last isolate gave its own back).
 * Anything past those is a lost or doubled count.
 */
export function reconcile(tracker: string, counted: number, received: number, failOpen: number, cutByKill: number, notGivenBack: number): TrackerRow {
  const diff = counted - received;
  return {
    tracker,
    counted,
    received,
    not_counted: Math.max(0, -diff - failOpen),
    counted_twice_or_never_sent: Math.max(0, diff - cutByKill - failOpen - notGivenBack),
    fail_open: failOpen,
    cut_by_kill: cutByKill,
    not_given_back: notGivenBack,
  };
}

/** p50/p99 of a list of milliseconds. */
export function percentiles(values: number[]): { p50_ms: number; p99_ms: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50_ms: Math.round(percentile(sorted, 50)), p99_ms: Math.round(percentile(sorted, 99)) };
}
