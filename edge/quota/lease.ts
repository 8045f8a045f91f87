// Leases in the isolate: admissions a tracker granted ahead (window.ts grant), counted there
// already, so a request with one admits itself without waiting for a tracker call. Each pool is
// kept by circuit key (a quota group's members lease apart: their counts are their own).
//
// - take(): a request draws one admission of its size from a lease in force;
// - renewal: when a pool runs low (half its last grant used, or half its time gone) the client
//   asks for the next lease through waitUntil, sized by the demand seen during the last one;
// - due(): leases that ended, or were used up, are handed back with that call (and with the next
//   admit, a cool-down or open circuit this isolate learns, or GET /v1/quota): the tracker takes
//   their unused admissions off its counts.
import { LEASE_MAX, LEASE_MS, type LeaseRecord } from "./window.ts";

/** A lease is not drawn from in its last moments: the call it admits starts before it ends, whatever the clocks say. */
const END_MARGIN_MS = 100;

export interface HeldLease {
  id: number;
  until: number;
  /** Admissions, tokens and USD still unused. */
  requests: number;
  tokens: number;
  usd: number;
  /** What the tracker granted, for the renewal threshold. */
  granted: number;
  /** The circuit's failure count when granted: a success then has something to reset. */
  failures: number;
  /** Given back to the tracker already: what is put back after that goes back by itself. */
  returned: boolean;
}

/** One request's share of a lease. */
export interface Draw {
  lease: HeldLease;
  tokens: number;
  usd: number;
}

interface Pool {
  leases: HeldLease[];
  renewing: boolean;
  /** Admissions drawn here lately, newest last: the demand a renewal is sized by. */
  drawn: number[];
}

const pools = new Map<string, Pool>();

function pool(key: string): Pool {
  let found = pools.get(key);
  if (!found) pools.set(key, (found = { leases: [], renewing: false, drawn: [] }));
  return found;
}

/** One admission of this size from a lease in force, or undefined: then the request waits for its tracker. */
export function take(key: string, tokens: number, usd: number, now: number): Draw | undefined {
  const held = pools.get(key);
  if (!held) return undefined;
  const lease = held.leases.find((l) => l.until - END_MARGIN_MS > now && l.requests >= 1 && l.tokens >= tokens && l.usd >= usd - 1e-12);
  if (!lease) return undefined;
  lease.requests--;
  lease.tokens -= tokens;
  lease.usd -= usd;
  noteDemand(held, now);
  return { lease, tokens, usd };
}

/** Counts a request that asked its tracker, for the next lease's size. */
export function noteWait(key: string, now: number): void {
  noteDemand(pool(key), now);
}

function noteDemand(held: Pool, now: number): void {
  held.drawn.push(now);
  while (held.drawn.length && held.drawn[0]! <= now - LEASE_MS) held.drawn.shift();
  if (held.drawn.length > LEASE_MAX) held.drawn.shift();
}

/** How many admissions to ask for: twice the last lease period's demand, at least 2. */
export function wanted(key: string): number {
  return Math.min(LEASE_MAX, Math.max(2, 2 * (pools.get(key)?.drawn.length ?? 0)));
}

/** Keeps what a tracker granted (the asking request's own admission is not in it). */
export function keep(key: string, granted: LeaseRecord, failures: number): void {
  if (granted.requests <= 0) return;
  pool(key).leases.push({ ...granted, granted: granted.requests, failures, returned: false });
}

/**
 * Whether to renew now, in the background: no renewal is out, the isolate has drawn here lately,
 * and what is left is at most half the last grant or lasts less than half a lease. Marks one out.
 */
export function startRenewal(key: string, now: number): boolean {
  const held = pools.get(key);
  if (!held || held.renewing || !held.drawn.length) return false;
  const live = held.leases.filter((l) => l.until - END_MARGIN_MS > now);
  const newest = live.at(-1);
  const left = live.reduce((sum, l) => sum + l.requests, 0);
  if (newest && left * 2 > newest.granted && newest.until - now > LEASE_MS / 2) return false;
  held.renewing = true;
  return true;
}

export function renewalDone(key: string): void {
  const held = pools.get(key);
  if (held) held.renewing = false;
}

/** The unused parts of leases that ended or are used up (or all, with `all`), taken out of the pool to be given back. */
export function due(key: string, now: number, all = false): LeaseRecord[] {
  const held = pools.get(key);
  if (!held) return [];
  // A lease used up goes back at once, not at its end: the tracker stops holding it against its lease cap.
  const ended = held.leases.filter((l) => all || l.requests <= 0 || l.until - END_MARGIN_MS <= now);
  held.leases = held.leases.filter((l) => !ended.includes(l));
  for (const l of ended) l.returned = true;
  return ended.map((l) => ({ id: l.id, until: l.until, requests: l.requests, tokens: Math.max(0, l.tokens), usd: Math.max(0, l.usd), granted: l.granted }));
}

/**
 * Puts a draw back (a client request that called no provider after all). Returns the part to give
 * back to the tracker when its lease was given back already, else undefined.
 */
export function putBack(draw: Draw): LeaseRecord | undefined {
  const { lease } = draw;
  if (lease.returned) return { id: lease.id, until: lease.until, requests: 1, tokens: draw.tokens, usd: draw.usd };
  lease.requests++;
  lease.tokens += draw.tokens;
  lease.usd += draw.usd;
  return undefined;
}

/** Every pool key that holds leases (GET /v1/quota gives this isolate's back before it reads). */
export function heldKeys(): string[] {
  return [...pools.keys()].filter((key) => pools.get(key)!.leases.length > 0);
}
