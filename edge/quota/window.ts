// Pure quota logic, with time passed in: the day's counts (restarting at midnight in the
// provider's zone), an exact sliding 60-second window, token budgets (reserved before the call,
// settled after), USD budgets per day and month, cool-downs, and leases (see quota/lease.ts).
// The QuotaTracker Durable Object holds a QuotaState and applies these functions to it.
import { circuitAdmit, closedCircuit, circuitReport, TRIAL_POLL_MS, type CircuitReport, type CircuitState } from "./circuit.ts";

export interface QuotaLimits {
  requests_per_day?: number;
  requests_per_minute?: number;
  tokens_per_day?: number;
  tokens_per_minute?: number;
  budget_usd_per_day?: number;
  budget_usd_per_month?: number;
  daily_reset_tz?: string;
}

/**
 * What one request asks the tracker for: `tokens` (its prompt estimate plus output budget, 0 when
 * no token limit applies) and `usd` (its estimated cost, 0 when no budget applies); `requests`
 * admissions of that size in all, the first for the asking request, the rest leased to its isolate.
 */
export interface LeaseAsk {
  requests: number;
  tokens: number;
  usd: number;
  /** A background renewal: no request waits, all of it is leased, and it never takes a half-open circuit's trial. */
  renewal?: boolean;
}

/** Admissions granted to an isolate, counted here when granted, usable until `until`. */
export interface LeaseRecord {
  id: number;
  until: number;
  requests: number;
  tokens: number;
  usd: number;
  /**
   * In a give-back: the lease's whole size as granted, so the tracker knows none of it is held any
   * more (absent in a put-back of one admission, which returns no lease).
   */
  granted?: number;
}

/**
 * An answer's real usage against what its admission reserved: `tokens`/`usd` the difference
 * (real minus reserved; negative gives back), `until` the reservation's stamp in the window.
 */
export interface Settlement {
  until: number;
  tokens: number;
  usd: number;
}

export interface QuotaState {
  /** The day the daily counts belong to, as YYYY-MM-DD in the provider's zone. */
  day: string;
  dayRequests: number;
  dayTokens: number;
  /** USD spent (and reserved) today and this month; `month` is YYYY-MM in the provider's zone. */
  dayUsd: number;
  month: string;
  monthUsd: number;
  /** Leases granted and still in force, for the early-denial cap (leaseSize). */
  leases: LeaseRecord[];
  /** The last lease id handed out. */
  leaseSeq: number;
  /**
   * Admissions leased today whose leases no isolate has given back yet: in force, ended and not
   * returned yet, or stranded by an isolate that stopped (counted, perhaps never used).
   */
  dayLeasedOut: number;
  /**
   * Admission stamps (epoch ms, windowStamp()), oldest first. An admission counts in the window
   * from its grant until 60 s after its stamp: the grant's time, or for a leased one its lease's
   * end, plus CALL_MARGIN_MS, so it covers its call's arrival at the provider whenever it is used.
   */
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

export type DenyReason = "rpm" | "daily" | "tokens" | "budget" | "cooldown" | "circuit_open";
export type Admission =
  | {
      admitted: true;
      trial: boolean;
      failures: number;
      /** The day's count with this one: least_used orders by it. */
      requestsToday: number;
      /** The asking request's own stamp in the window (the grant's time). */
      at: number;
      /** What was leased to its isolate beyond it (requests 0: nothing). */
      lease: LeaseRecord;
    }
  | {
      admitted: false;
      reason: DenyReason;
      retryAt: number;
      cooldownReason?: string;
      /** The limit is not spent, this request's reservation does not fit it: a smaller one (or a settlement) may. */
      unfit?: boolean;
    };

export const WINDOW_MS = 60_000;
/** How long a lease is valid: also the longest a cool-down or an opened circuit takes to reach an isolate that holds one. */
export const LEASE_MS = 2_000;
/** Of each limit, the share that may sit in leases at once beyond the admitted requests (the early-denial bound). */
export const LEASE_SHARE = 0.1;
/** The most admissions one lease carries. */
export const LEASE_MAX = 32;
/**
 * How long after its stamp (the grant, or its lease's end) an admitted call may still reach the
 * provider: the answer's trip back to a distant isolate and its call on to the provider. An
 * admission counts in the window from its grant until 60 s after its stamp plus this margin, so
 * every call the provider sees in any 60 s was in the window together: R at most.
 */
export const CALL_MARGIN_MS = 1_000;

/** Where an admission (or reservation) stamped `until` sits in the window: see CALL_MARGIN_MS. */
export function windowStamp(until: number): number {
  return until + CALL_MARGIN_MS;
}

export function emptyState(): QuotaState {
  return {
    day: "",
    dayRequests: 0,
    dayTokens: 0,
    dayUsd: 0,
    month: "",
    monthUsd: 0,
    leases: [],
    leaseSeq: 0,
    dayLeasedOut: 0,
    window: [],
    windowTokens: [],
    cooldownUntil: 0,
    cooldownReason: null,
    circuit: closedCircuit(),
    checks: 0,
    members: {},
  };
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

/** Epoch ms of the next 1st of the month, midnight in `zone`: when a monthly budget restarts. */
export function nextMonthReset(now: number, zone = "UTC"): number {
  const { year, month } = wallClock(now, zone);
  return wallMidnight(now, zone, Date.UTC(year, month, 1));
}

/** Epoch ms of the next midnight in `zone` after `now`: when a daily quota restarts. DST-aware. */
export function nextReset(now: number, zone = "UTC"): number {
  const { year, month, day } = wallClock(now, zone);
  return wallMidnight(now, zone, Date.UTC(year, month - 1, day + 1));
}

/** The epoch ms after `now` at which `zone`'s wall clock reads `midnightWall` (Date.UTC of the wall time). */
function wallMidnight(now: number, zone: string, midnightWall: number): number {
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
    state.dayUsd = 0;
    state.dayLeasedOut = 0;
    for (const member of Object.values(state.members)) member.requests = member.tokens = 0;
  }
  const month = today.slice(0, 7);
  if (state.month !== month) {
    state.month = month;
    state.monthUsd = 0;
  }
  const cutoff = now - WINDOW_MS;
  while (state.window.length && state.window[0]! <= cutoff) state.window.shift();
  while (state.windowTokens.length && state.windowTokens[0]![0] <= cutoff) state.windowTokens.shift();
  state.leases = state.leases.filter((lease) => lease.until > now);
}

/** Inserts into an ascending list (leased stamps lie ahead of direct ones). */
function insertSorted<T>(list: T[], item: T, key: (item: T) => number): void {
  let index = list.length;
  while (index > 0 && key(list[index - 1]!) > key(item)) index--;
  list.splice(index, 0, item);
}

function windowTokenSum(state: QuotaState): number {
  return state.windowTokens.reduce((sum, [, tokens]) => sum + tokens, 0);
}

/** When enough recorded tokens leave the window for `need` (at most `limit`) more to fit under `limit`. */
function tokensReopenAt(state: QuotaState, limit: number, now: number, need = 0): number {
  let sum = windowTokenSum(state);
  for (const [at, tokens] of state.windowTokens) {
    sum -= tokens;
    if (sum < limit && sum + need <= limit) return at + WINDOW_MS;
  }
  return (state.windowTokens.at(-1)?.[0] ?? now) + WINDOW_MS;
}

/**
 * Checks every limit and the circuit and, when all allow it, counts the request: one step, so
 * admission is exact. `trialLeaseMs` is how long a half-open circuit's one trial may take.
 */
export function admit(state: QuotaState, limits: QuotaLimits, now: number, trialLeaseMs = 30_000, member?: string): Admission {
  return grant(state, limits, now, { requests: 1, tokens: 0, usd: 0 }, trialLeaseMs, member);
}

/**
 * Admits one request of `ask`'s size (stamped now) and leases up to `ask.requests - 1` more of that
 * size to its isolate, all counted now. Leased ones are stamped with the lease's end, LEASE_MS
 * ahead: wherever in the lease one is used, the window counts it for the 60 s after. A lease is
 * cut so that leases in force hold at most LEASE_SHARE of any limit, and never past the headroom.
 * A half-open circuit's one trial takes no lease.
 */
export function grant(state: QuotaState, limits: QuotaLimits, now: number, ask: LeaseAsk, trialLeaseMs = 30_000, member?: string): Admission {
  roll(state, now, limits.daily_reset_tz);
  state.checks++;
  const denial = limitDenial(state, limits, now, ask);
  if (denial) return denial;
  const own = member === undefined ? undefined : memberState(state, member);
  const circuitState = own?.circuit ?? state.circuit;
  if (ask.renewal && circuitState.openUntil !== 0) {
    return { admitted: false, reason: "circuit_open", retryAt: Math.max(circuitState.openUntil, now + TRIAL_POLL_MS) };
  }
  const circuit = circuitAdmit(circuitState, now, trialLeaseMs);
  if (!circuit.ok) return { admitted: false, reason: "circuit_open", retryAt: circuit.retryAt };
  // No spares in the last LEASE_MS of the day: one used after the reset would count in the day before.
  const nearReset = nextReset(now, limits.daily_reset_tz) - now <= LEASE_MS;
  const spare = circuit.trial || nearReset ? 0 : leaseSpare(state, limits, ask);
  if (!ask.renewal) count(state, { until: now, requests: 1, tokens: ask.tokens, usd: ask.usd }, 1, own);
  const lease: LeaseRecord = { id: ++state.leaseSeq, until: now + LEASE_MS, requests: spare, tokens: ask.tokens * spare, usd: ask.usd * spare };
  if (spare > 0) {
    count(state, lease, 1, own);
    state.leases.push({ ...lease });
    state.dayLeasedOut += spare;
  }
  return { admitted: true, trial: circuit.trial, failures: circuitState.failures, requestsToday: state.dayRequests, at: now, lease };
}

/** Adds (sign 1) or takes back (sign -1) admissions, tokens and USD stamped `until`. */
function count(state: QuotaState, part: Omit<LeaseRecord, "id">, sign: 1 | -1, own?: MemberState): void {
  state.dayRequests = Math.max(0, state.dayRequests + sign * part.requests);
  state.dayTokens = Math.max(0, state.dayTokens + sign * part.tokens);
  if (own) {
    own.requests = Math.max(0, own.requests + sign * part.requests);
    own.tokens = Math.max(0, own.tokens + sign * part.tokens);
  }
  state.dayUsd = Math.max(0, state.dayUsd + sign * part.usd);
  state.monthUsd = Math.max(0, state.monthUsd + sign * part.usd);
  const stamp = windowStamp(part.until);
  if (sign === 1) {
    for (let i = 0; i < part.requests; i++) insertSorted(state.window, stamp, (at) => at);
    if (part.tokens > 0) insertSorted<[number, number]>(state.windowTokens, [stamp, part.tokens], ([at]) => at);
    return;
  }
  for (let i = 0; i < part.requests; i++) {
    const index = state.window.lastIndexOf(stamp);
    if (index >= 0) state.window.splice(index, 1);
  }
  if (part.tokens > 0) takeTokens(state, part.until, part.tokens);
}

/** Takes `tokens` off the window record of a reservation stamped `until`, while it is in the window. */
function takeTokens(state: QuotaState, until: number, tokens: number): void {
  const stamp = windowStamp(until);
  const record = state.windowTokens.find(([at, held]) => at === stamp && held > 0);
  if (record) record[1] = Math.max(0, record[1] - tokens);
}

/** How many admissions of `ask`'s size to lease beyond the asking request's: what the leases' cap and the headroom allow. */
function leaseSpare(state: QuotaState, limits: QuotaLimits, ask: LeaseAsk): number {
  // A USD budget leases nothing: a spare reserves the asking request's estimate, and the isolate
  // would go on drawing it while the real costs settle here, past the budget.
  if (limits.budget_usd_per_day !== undefined || limits.budget_usd_per_month !== undefined) return 0;
  const own = ask.renewal ? 0 : 1;
  let spare = Math.max(0, Math.min(ask.requests, LEASE_MAX) - own);
  const held = { requests: 0, tokens: 0, usd: 0 };
  for (const lease of state.leases) {
    held.requests += lease.requests;
    held.tokens += lease.tokens;
    held.usd += lease.usd;
  }
  const fit = (limit: number | undefined, used: number, leased: number, each: number) => {
    if (limit === undefined || each <= 0 || spare === 0) return;
    const cap = Math.floor((limit * LEASE_SHARE - leased) / each);
    const headroom = Math.floor((limit - used) / each) - own; // after the asking request's own
    spare = Math.max(0, Math.min(spare, cap, headroom));
  };
  fit(limits.requests_per_minute, state.window.length, held.requests, 1);
  fit(limits.requests_per_day, state.dayRequests, held.requests, 1);
  fit(limits.tokens_per_minute, windowTokenSum(state), held.tokens, ask.tokens);
  fit(limits.tokens_per_day, state.dayTokens, held.tokens, ask.tokens);
  fit(limits.budget_usd_per_day, state.dayUsd, held.usd, ask.usd);
  fit(limits.budget_usd_per_month, state.monthUsd, held.usd, ask.usd);
  return spare;
}

/**
 * Takes back a lease's unused part (`part.id` names the lease). Its admissions were never used, so
 * they leave the counts even after the lease ended; a lease from another day leaves today's alone
 * (returns false: nothing was taken back).
 */
export function giveBack(state: QuotaState, limits: QuotaLimits, part: LeaseRecord, now: number, member?: string): boolean {
  roll(state, now, limits.daily_reset_tz);
  // An isolate gives a lease back once, when it is done with it: it no longer holds any of it.
  state.leases = state.leases.filter((lease) => lease.id !== part.id);
  if (dayKey(part.until - LEASE_MS, limits.daily_reset_tz) !== state.day) return false;
  state.dayLeasedOut = Math.max(0, state.dayLeasedOut - (part.granted ?? 0));
  const own = member === undefined ? undefined : state.members[member];
  count(state, { until: part.until, requests: Math.max(0, part.requests), tokens: Math.max(0, part.tokens), usd: Math.max(0, part.usd) }, -1, own);
  return true;
}

/**
 * An answer's real tokens and cost against its reservation: more than reserved is counted now,
 * less gives the difference back (in the window, from the reservation's own record).
 */
export function settle(state: QuotaState, limits: QuotaLimits, settlement: Settlement, now: number, member?: string): void {
  roll(state, now, limits.daily_reset_tz);
  const sameDay = dayKey(settlement.until - LEASE_MS, limits.daily_reset_tz) === state.day;
  const { tokens, usd } = settlement;
  if (tokens > 0) recordTokens(state, tokens, limits, now, member);
  else if (tokens < 0 && sameDay) {
    state.dayTokens = Math.max(0, state.dayTokens + tokens);
    if (member !== undefined) memberState(state, member).tokens = Math.max(0, memberState(state, member).tokens + tokens);
    takeTokens(state, settlement.until, -tokens);
  }
  if (usd > 0 || (usd < 0 && sameDay)) {
    state.dayUsd = Math.max(0, state.dayUsd + usd);
    state.monthUsd = Math.max(0, state.monthUsd + usd);
  }
}

/** A limit is spent when it is reached, or when this request's reservation would pass it. */
function over(limit: number | undefined, used: number, need: number): boolean {
  return limit !== undefined && (used >= limit || used + need > limit);
}

/**
 * A token reservation larger than the whole limit counts as the whole limit: it runs alone (an
 * empty window, an untouched day) instead of never; the provider's own limit then has its say.
 */
function tokenNeed(limit: number | undefined, need: number): number {
  return limit === undefined ? need : Math.min(need, limit);
}

/** The denial of a reservation that does not fit: marked unfit when the limit itself is not reached. */
function unfitWhen(used: number, limit: number, denial: Extract<Admission, { admitted: false }>): Admission {
  return used < limit ? { ...denial, unfit: true } : denial;
}

function limitDenial(state: QuotaState, limits: QuotaLimits, now: number, ask: LeaseAsk): Admission | undefined {
  if (state.cooldownUntil > now) {
    return { admitted: false, reason: "cooldown", retryAt: state.cooldownUntil, cooldownReason: state.cooldownReason ?? "cooldown" };
  }
  if (limits.requests_per_day !== undefined && state.dayRequests >= limits.requests_per_day) {
    return { admitted: false, reason: "daily", retryAt: nextReset(now, limits.daily_reset_tz) };
  }
  if (over(limits.tokens_per_day, state.dayTokens, tokenNeed(limits.tokens_per_day, ask.tokens))) {
    return unfitWhen(state.dayTokens, limits.tokens_per_day!, { admitted: false, reason: "tokens", retryAt: nextReset(now, limits.daily_reset_tz) });
  }
  if (over(limits.budget_usd_per_day, state.dayUsd, ask.usd)) {
    return unfitWhen(state.dayUsd, limits.budget_usd_per_day!, { admitted: false, reason: "budget", retryAt: nextReset(now, limits.daily_reset_tz) });
  }
  if (over(limits.budget_usd_per_month, state.monthUsd, ask.usd)) {
    return unfitWhen(state.monthUsd, limits.budget_usd_per_month!, { admitted: false, reason: "budget", retryAt: nextMonthReset(now, limits.daily_reset_tz) });
  }
  if (limits.requests_per_minute !== undefined && state.window.length >= limits.requests_per_minute) {
    // The request that leaves the window first makes room.
    return { admitted: false, reason: "rpm", retryAt: state.window[state.window.length - limits.requests_per_minute]! + WINDOW_MS };
  }
  const minuteTokens = windowTokenSum(state);
  const minuteNeed = tokenNeed(limits.tokens_per_minute, ask.tokens);
  if (over(limits.tokens_per_minute, minuteTokens, minuteNeed)) {
    return unfitWhen(minuteTokens, limits.tokens_per_minute!, { admitted: false, reason: "tokens", retryAt: tokensReopenAt(state, limits.tokens_per_minute!, now, minuteNeed) });
  }
  return undefined;
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
  /** USD counted today and this month (reservations of answers in flight included), the budgets and what is left of them. */
  usd_today: number;
  budget_usd_per_day: number | null;
  budget_usd_remaining_today: number | null;
  usd_this_month: number;
  budget_usd_per_month: number | null;
  budget_usd_remaining_this_month: number | null;
  next_month_reset: string;
  /** Admissions in leases in force that their isolates have not given back yet: at most this many are counted but unused. */
  requests_leased: number;
  /**
   * Admissions leased today in leases no isolate has given back: those in force, those ended and
   * not returned yet, and those of an isolate that stopped first (counted today, perhaps never used).
   */
  requests_not_given_back: number;
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
    usd_today: state.dayUsd,
    budget_usd_per_day: limits.budget_usd_per_day ?? null,
    budget_usd_remaining_today: limits.budget_usd_per_day === undefined ? null : Math.max(0, limits.budget_usd_per_day - state.dayUsd),
    usd_this_month: state.monthUsd,
    budget_usd_per_month: limits.budget_usd_per_month ?? null,
    budget_usd_remaining_this_month: limits.budget_usd_per_month === undefined ? null : Math.max(0, limits.budget_usd_per_month - state.monthUsd),
    next_month_reset: new Date(nextMonthReset(now, limits.daily_reset_tz)).toISOString(),
    requests_leased: state.leases.reduce((sum, lease) => sum + lease.requests, 0),
    requests_not_given_back: state.dayLeasedOut,
  };
}
