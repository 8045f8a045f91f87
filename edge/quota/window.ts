// Pure quota logic, with time passed in: the day's counts (restarting at midnight in the
// provider's zone), an exact sliding 60-second window, token budgets and cool-downs.
// The QuotaTracker Durable Object holds a QuotaState and applies these functions to it.
import { circuitAdmit, closedCircuit, circuitReport, type CircuitReport, type CircuitState } from "./circuit.ts";

export interface QuotaLimits {
  requests_per_day?: number;
  requests_per_minute?: number;
  tokens_per_day?: number;
  tokens_per_minute?: number;
  daily_reset_tz?: string;
}

export interface QuotaState {
  /** The day the daily counts belong to, as YYYY-MM-DD in the provider's zone. */
  day: string;
  dayRequests: number;
  dayTokens: number;
  /** Admission times (epoch ms) inside the last 60 s, oldest first. */
  window: number[];
  /** [time, tokens] recorded inside the last 60 s, oldest first. */
  windowTokens: Array<[number, number]>;
  cooldownUntil: number;
  cooldownReason: string | null;
  /** The provider's circuit breaker (circuit.ts). */
  circuit: CircuitState;
  /** admit() calls this object has answered: what the isolate cache saves is visible here. */
  checks: number;
  /**
   * A quota group's tracker: each member provider's own day counts and circuit (an outage of one
   * model is not the others'), by provider id. Empty for a provider's own tracker and a client's.
   */
  members: Record<string, MemberState>;
}

export interface MemberState {
  requests: number;
  tokens: number;
  circuit: CircuitState;
}

export type DenyReason = "rpm" | "daily" | "tokens" | "cooldown" | "circuit_open";
export type Admission =
  | { admitted: true; trial: boolean; failures: number; /** The day's count with this one: least_used orders by it. */ requestsToday: number }
  | { admitted: false; reason: DenyReason; retryAt: number; cooldownReason?: string };

export const WINDOW_MS = 60_000;

export function emptyState(): QuotaState {
  return { day: "", dayRequests: 0, dayTokens: 0, window: [], windowTokens: [], cooldownUntil: 0, cooldownReason: null, circuit: closedCircuit(), checks: 0, members: {} };
}

/** A group member's own state, created on first use. */
export function memberState(state: QuotaState, member: string): MemberState {
  return (state.members[member] ??= { requests: 0, tokens: 0, circuit: closedCircuit() });
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, format);
  }
  return format;
}

/** The wall-clock fields of `now` in `zone`. */
function wallClock(now: number, zone: string) {
  const parts: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(now)) if (part.type !== "literal") parts[part.type] = Number(part.value);
  return parts as { year: number; month: number; day: number; hour: number; minute: number; second: number };
}

/** YYYY-MM-DD of `now` in `zone` (UTC when none). */
export function dayKey(now: number, zone = "UTC"): string {
  const { year, month, day } = wallClock(now, zone);
  return `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/** The zone's offset from UTC at `at`, in ms (wall clock minus UTC). */
function offsetAt(at: number, zone: string): number {
  const w = wallClock(at, zone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(at / 1000) * 1000;
}

/** Epoch ms of the next midnight in `zone` after `now`: when a daily quota restarts. DST-aware. */
export function nextReset(now: number, zone = "UTC"): number {
  const { year, month, day } = wallClock(now, zone);
  const midnightWall = Date.UTC(year, month - 1, day + 1);
  // Wall time minus the offset; the offset is read again at the guess in case it changed (DST).
  let guess = midnightWall - offsetAt(now, zone);
  guess = midnightWall - offsetAt(guess, zone);
  return guess > now ? guess : now + 1;
}

/** Starts a new day's counts when the day changed, and drops window entries older than 60 s. */
export function roll(state: QuotaState, now: number, zone?: string): void {
  const today = dayKey(now, zone);
  if (state.day !== today) {
    state.day = today;
    state.dayRequests = 0;
    state.dayTokens = 0;
    for (const member of Object.values(state.members)) member.requests = member.tokens = 0;
  }
  const cutoff = now - WINDOW_MS;
  while (state.window.length && state.window[0]! <= cutoff) state.window.shift();
  while (state.windowTokens.length && state.windowTokens[0]![0] <= cutoff) state.windowTokens.shift();
}

function windowTokenSum(state: QuotaState): number {
  return state.windowTokens.reduce((sum, [, tokens]) => sum + tokens, 0);
}

/** When enough recorded tokens leave the window for the sum to fall under `limit`. */
function tokensReopenAt(state: QuotaState, limit: number): number {
  let sum = windowTokenSum(state);
  for (const [at, tokens] of state.windowTokens) {
    sum -= tokens;
    if (sum < limit) return at + WINDOW_MS;
  }
  return state.windowTokens.at(-1)![0] + WINDOW_MS;
}

/**
 * Checks every limit and the circuit and, when all allow it, counts the request: one step, so
 * admission is exact. `trialLeaseMs` is how long a half-open circuit's one trial may take.
 */
export function admit(state: QuotaState, limits: QuotaLimits, now: number, trialLeaseMs = 30_000, member?: string): Admission {
  roll(state, now, limits.daily_reset_tz);
  state.checks++;
  const denial = limitDenial(state, limits, now);
  if (denial) return denial;
  const own = member === undefined ? undefined : memberState(state, member);
  const circuitState = own?.circuit ?? state.circuit;
  const circuit = circuitAdmit(circuitState, now, trialLeaseMs);
  if (!circuit.ok) return { admitted: false, reason: "circuit_open", retryAt: circuit.retryAt };
  state.dayRequests++;
  if (own) own.requests++;
  state.window.push(now);
  return { admitted: true, trial: circuit.trial, failures: circuitState.failures, requestsToday: state.dayRequests };
}

function limitDenial(state: QuotaState, limits: QuotaLimits, now: number): Admission | undefined {
  if (state.cooldownUntil > now) {
    return { admitted: false, reason: "cooldown", retryAt: state.cooldownUntil, cooldownReason: state.cooldownReason ?? "cooldown" };
  }
  if (limits.requests_per_day !== undefined && state.dayRequests >= limits.requests_per_day) {
    return { admitted: false, reason: "daily", retryAt: nextReset(now, limits.daily_reset_tz) };
  }
  if (limits.tokens_per_day !== undefined && state.dayTokens >= limits.tokens_per_day) {
    return { admitted: false, reason: "tokens", retryAt: nextReset(now, limits.daily_reset_tz) };
  }
  if (limits.requests_per_minute !== undefined && state.window.length >= limits.requests_per_minute) {
    // The request that leaves the window first makes room.
    return { admitted: false, reason: "rpm", retryAt: state.window[state.window.length - limits.requests_per_minute]! + WINDOW_MS };
  }
  if (limits.tokens_per_minute !== undefined && windowTokenSum(state) >= limits.tokens_per_minute) {
    return { admitted: false, reason: "tokens", retryAt: tokensReopenAt(state, limits.tokens_per_minute) };
  }
  return undefined;
}

/** Takes back the newest admission (a client request that, in the end, called no provider). */
export function release(state: QuotaState): void {
  if (state.dayRequests > 0) state.dayRequests--;
  state.window.pop();
}

/** Counts an answer's tokens against the day and the window. */
export function recordTokens(state: QuotaState, tokens: number, limits: QuotaLimits, now: number, member?: string): void {
  roll(state, now, limits.daily_reset_tz);
  if (!(tokens > 0)) return;
  state.dayTokens += tokens;
  if (member !== undefined) memberState(state, member).tokens += tokens;
  state.windowTokens.push([now, tokens]);
}

/** A cool-down until `until`: a longer one extends the current one, a shorter one never cuts it. */
export function coolDown(state: QuotaState, until: number, reason: string): void {
  if (until <= state.cooldownUntil) return;
  state.cooldownUntil = until;
  state.cooldownReason = reason;
}

export interface QuotaSnapshot {
  day: string;
  requests_today: number;
  requests_per_day: number | null;
  requests_last_minute: number;
  requests_per_minute: number | null;
  tokens_today: number;
  tokens_per_day: number | null;
  tokens_last_minute: number;
  tokens_per_minute: number | null;
  cooldown_until: string | null;
  cooldown_reason: string | null;
  next_reset: string;
  circuit: CircuitReport;
  checks: number;
}

export function snapshot(state: QuotaState, limits: QuotaLimits, now: number): QuotaSnapshot {
  roll(state, now, limits.daily_reset_tz);
  const cooling = state.cooldownUntil > now;
  return {
    day: state.day,
    requests_today: state.dayRequests,
    requests_per_day: limits.requests_per_day ?? null,
    requests_last_minute: state.window.length,
    requests_per_minute: limits.requests_per_minute ?? null,
    tokens_today: state.dayTokens,
    tokens_per_day: limits.tokens_per_day ?? null,
    tokens_last_minute: windowTokenSum(state),
    tokens_per_minute: limits.tokens_per_minute ?? null,
    cooldown_until: cooling ? new Date(state.cooldownUntil).toISOString() : null,
    cooldown_reason: cooling ? state.cooldownReason : null,
    next_reset: new Date(nextReset(now, limits.daily_reset_tz)).toISOString(),
    circuit: circuitReport(state.circuit, now),
    checks: state.checks,
  };
}
