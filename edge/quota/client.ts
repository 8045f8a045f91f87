// The edge's side of quota tracking and circuits: one admit() RPC per attempt at most, none for
// providers without limits, none while an isolate-cached denial is still in force, and none while
// the isolate holds a lease (lease.ts) with an admission of the request's size left. Reports
// (cool-downs, settlements, circuit outcomes, lease renewals and returns) go through waitUntil,
// off the client's path.
//
// A request reserves before the call what token budgets and USD budgets will count (reserve.ts),
// and settles to what the answer really used when it ends (settle, giveBackUnused).
//
// Circuits: a provider with limits has its circuit in its tracker, checked by the same admit() RPC,
// so every isolate sees it. A provider without limits has no admit() call to carry it, so its
// circuit lives in this isolate; its outcomes are still reported to its tracker for /v1/quota.
//
// Providers in a quota group share the group's tracker and limits; each keeps its own circuit
// there (the `member` argument). A client with limits has a tracker of its own, admitted once per
// request on top of the provider's (admitClient).
import type { ClientConfig, ProviderConfig, QuotaGroupConfig, RouterConfig, TrackerErrorPolicy } from "../../shared/config.ts";
import type { Usage } from "../../shared/openai.ts";
import type { Env } from "../env.ts";
import { costUsd } from "../usage/cost.ts";
import { breakerSettings, circuitAdmit, circuitFailure, closedCircuit, type CircuitState, type FailureKind } from "./circuit.ts";
import type { Cooldown } from "./cooldown.ts";
import { due, heldKeys, keep, noteWait, putBack, renewalDone, startRenewal, take, wanted, type Draw } from "./lease.ts";
import type { Admission, DenyReason, LeaseRecord, QuotaLimits, Settlement } from "./window.ts";

interface Denial {
  reason: DenyReason | "quota_unavailable";
  retryAt: number;
  cooldownReason?: string;
}

/** Denials by tracker name, kept in the isolate until they expire. */
const denials = new Map<string, Denial>();
/** Circuits of providers without a tracker, by circuit key. */
const localCircuits = new Map<string, CircuitState>();
/** Circuit keys this isolate reported an outage for since it last reported a success: the next success resets them. */
const unresetFailures = new Set<string>();
/**
 * Today's share of the daily limit (requests_today / requests_per_day) by tracker name, from the
 * admit answers this isolate received: what least_used orders by. Stale for a provider this
 * isolate has not admitted lately; absent (counted as 0) for one it never admitted.
 */
const usageShares = new Map<string, number>();

export function usageShare(name: string): number | undefined {
  return usageShares.get(name);
}

const TRACKER_TIMEOUT_MS = 1_000;

/**
 * One tracker per provider id, model and endpoint: providers count per model (Groq, Gemini), so a
 * changed model starts its own counts.
 */
export function trackerName(providerId: string, provider: ProviderConfig): string {
  if (provider.quota_group !== undefined) return groupTrackerName(provider.quota_group);
  return `${providerId}|${provider.model}|${provider.base_url}`;
}

export const groupTrackerName = (group: string) => `group:${group}`;
export const clientTrackerName = (client: string) => `client:${client}`;

/** A tracker by name; `locationHint` places it where it is first created (a report may be first). */
export function trackerStub(env: Env, name: string, locationHint?: DurableObjectLocationHint): Stub {
  const id = env.QUOTA.idFromName(name);
  return locationHint ? env.QUOTA.get(id, { locationHint }) : env.QUOTA.get(id);
}

/** Where a provider's own tracker is created: its location_hint, else the config's (a group member: the group's tracker, the config's). */
export const providerHint = (provider: ProviderConfig, config: { location_hint?: DurableObjectLocationHint }) =>
  (provider.quota_group === undefined && provider.location_hint) || config.location_hint;

type Groups = Readonly<Record<string, QuotaGroupConfig>>;

/** The limits a provider is admitted against: its group's when it is in one, else its own. */
export function limitsOf(provider: ProviderConfig, groups: Groups = {}): QuotaLimits | undefined {
  return limitsFrom(provider.quota_group !== undefined ? (groups[provider.quota_group] ?? {}) : provider);
}

/** Limits from a provider, a quota group or a client; undefined when none is set (no tracker call). */
export function limitsFrom(source: QuotaLimits): QuotaLimits | undefined {
  const { requests_per_day, requests_per_minute, tokens_per_day, tokens_per_minute, budget_usd_per_day, budget_usd_per_month, daily_reset_tz } = source;
  const limits = { requests_per_day, requests_per_minute, tokens_per_day, tokens_per_minute, budget_usd_per_day, budget_usd_per_month };
  if (Object.values(limits).every((limit) => limit === undefined)) return undefined;
  return { ...limits, daily_reset_tz };
}

/** Limits that count tokens, and USD: only then does a request reserve them. */
export const countsTokens = (limits: QuotaLimits | undefined) => limits?.tokens_per_day !== undefined || limits?.tokens_per_minute !== undefined;
export const countsUsd = (limits: QuotaLimits | undefined) => limits?.budget_usd_per_day !== undefined || limits?.budget_usd_per_month !== undefined;

/** Denials a lease does not outlast: a cool-down or an open circuit stops leased admissions too. */
const STOPS_LEASES: ReadonlySet<string> = new Set(["cooldown", "circuit_open"]);

/** What one request reserves at a tracker before its call: tokens (prompt estimate + output budget) and estimated USD. */
export interface Need {
  tokens: number;
  usd: number;
}

/**
 * What an admission reserved at one tracker, to settle when the answer ends: `stamp` is its
 * record's time there (a lease's end for a leased one), `draw` the lease it came from.
 */
export interface Reservation {
  ref: TrackerRef;
  stamp: number;
  tokens: number;
  usd: number;
  draw?: Draw;
  settled: boolean;
}

/** Where a provider's counts and circuit live: the tracker, its member key in a group's, and its limits. */
interface TrackerRef {
  name: string;
  member?: string;
  /** Key of the provider's circuit in the isolate (denials, local circuits, leases). */
  circuitKey: string;
  limits?: QuotaLimits;
  /** Where a tracker is created (Durable Object locationHint): the provider's, else the config's. */
  locationHint?: DurableObjectLocationHint;
  onError: TrackerErrorPolicy;
}

export interface RequestClient {
  name: string;
  config: ClientConfig;
}

/** A denial this isolate still holds for any of `keys`; expired ones are dropped. */
function cachedDenial(keys: Iterable<string>, now: number): (Denial & { admitted: false }) | undefined {
  // A cool-down or an open circuit first: it stops leased admissions, a spent limit does not.
  const found = [...keys].flatMap((key) => {
    const denial = denials.get(key);
    if (!denial) return [];
    if (denial.retryAt > now) return [{ admitted: false as const, ...denial }];
    denials.delete(key);
    return [];
  });
  return found.find((denial) => STOPS_LEASES.has(denial.reason)) ?? found[0];
}

export type AdmitResult =
  | {
      admitted: true;
      /** The one call a half-open circuit lets through: not retried. */
      trial: boolean;
      failures: number;
      trackerError?: string;
      /** What the admission reserved at its tracker (none without limits, or when the tracker failed). */
      reservation?: Reservation;
    }
  | ({ admitted: false; trackerError?: string } & Denial);

type Stub = DurableObjectStub<import("./tracker.ts").QuotaTracker>;

export interface QuotaOptions {
  groups?: Groups;
  client?: RequestClient;
  /** The config's on_tracker_error (default "admit") and location_hint, for trackers without their own. */
  onTrackerError?: TrackerErrorPolicy;
  locationHint?: DurableObjectLocationHint;
}

/** The config's tracker settings, as QuotaClient takes them. */
export function quotaOptions(config: Pick<RouterConfig, "quota_groups" | "on_tracker_error" | "location_hint">, client?: RequestClient): QuotaOptions {
  return { groups: config.quota_groups, client, onTrackerError: config.on_tracker_error, locationHint: config.location_hint };
}

export class QuotaClient {
  private readonly env: Env;
  private readonly waitUntil: (promise: Promise<unknown>) => void;
  /** Logs a tracker that could not answer, under the request's id. */
  private readonly onUnavailable: (providerId: string, message: string) => void;
  private readonly groups: Groups;
  /** The named client this request came from, when it has limits of its own. */
  private readonly client?: RequestClient;
  private readonly onTrackerError: TrackerErrorPolicy;
  private readonly locationHint?: DurableObjectLocationHint;
  /** What this request's client admission reserved (to settle, or give back if it calls no provider). */
  private clientReservation?: Reservation;
  /** Tracker calls this request waited for, and how long in all: the terminal line's tracker_waits and tracker_ms. */
  private waits = 0;
  private waitedMs = 0;

  constructor(env: Env, waitUntil: (promise: Promise<unknown>) => void, onUnavailable: (providerId: string, message: string) => void, options: QuotaOptions = {}) {
    this.env = env;
    this.waitUntil = waitUntil;
    this.onUnavailable = onUnavailable;
    this.groups = options.groups ?? {};
    this.client = options.client;
    this.onTrackerError = options.onTrackerError ?? "admit";
    this.locationHint = options.locationHint;
  }

  /** For the terminal line: how many tracker calls this request waited for, and for how long. */
  trackerFields(): { tracker_waits: number; tracker_ms: number } {
    return { tracker_waits: this.waits, tracker_ms: Math.round(this.waitedMs * 10) / 10 };
  }

  private tracker(name: string, locationHint = this.locationHint): Stub {
    return trackerStub(this.env, name, locationHint);
  }

  private ref(providerId: string, provider: ProviderConfig): TrackerRef {
    const name = trackerName(providerId, provider);
    const member = provider.quota_group !== undefined ? providerId : undefined;
    return {
      name,
      member,
      circuitKey: member === undefined ? name : `${name}#${member}`,
      limits: limitsOf(provider, this.groups),
      locationHint: providerHint(provider, { location_hint: this.locationHint }),
      onError: provider.on_tracker_error ?? this.onTrackerError,
    };
  }

  private clientRef(client = this.client): TrackerRef | undefined {
    const limits = client && limitsFrom(client.config);
    if (!client || !limits) return undefined;
    const name = clientTrackerName(client.name);
    return { name, circuitKey: name, limits, locationHint: this.locationHint, onError: this.onTrackerError };
  }

  /** The client has limits of its own (then admitClient calls its tracker). */
  get clientLimits(): QuotaLimits | undefined {
    return this.clientRef()?.limits;
  }

  /**
   * Admits the request against its client's own limits (a lease of the client's, else one call to
   * its tracker), none for PROXY_API_KEYS keys and clients without limits. `need`: what the
   * request may use at the most expensive provider it may reach (reserve.ts).
   */
  async admitClient(need: Need = { tokens: 0, usd: 0 }): Promise<AdmitResult> {
    const ref = this.clientRef();
    if (!ref) return { admitted: true, trial: false, failures: 0 };
    const result = await this.admitAt(ref, sized(ref.limits, need));
    if (result.admitted) this.clientReservation = result.reservation;
    return result;
  }

  /**
   * Only requests that call a provider count against a client's limits, but the client is admitted
   * before any provider is (so a client over its limit costs no provider anything): a request that
   * then called no provider at all gives its admission back, after the answer.
   */
  releaseClient(): void {
    const reservation = this.clientReservation;
    if (!reservation || reservation.settled) return;
    reservation.settled = true;
    const part = reservation.draw ? putBack(reservation.draw) : { id: 0, until: reservation.stamp, requests: 1, tokens: reservation.tokens, usd: reservation.usd };
    if (part) this.giveBackParts(reservation.ref, [part]);
  }

  /**
   * Asks the provider's tracker to admit one request (limits and circuit in one RPC), unless this
   * isolate holds a lease with room for it; fails open (or closed: on_tracker_error) when the
   * tracker cannot answer. `trialLeaseMs`: how long a half-open trial may take.
   */
  async admit(providerId: string, provider: ProviderConfig, trialLeaseMs: number, need: Need = { tokens: 0, usd: 0 }): Promise<AdmitResult> {
    const ref = this.ref(providerId, provider);
    const { circuitKey, limits } = ref;
    if (!limits) {
      const now = Date.now();
      const denied = cachedDenial([circuitKey], now);
      if (denied) return denied;
      const circuit = localCircuits.get(circuitKey);
      if (!circuit) return { admitted: true, trial: false, failures: 0 };
      const admission = circuitAdmit(circuit, now, trialLeaseMs);
      return admission.ok
        ? { admitted: true, trial: admission.trial, failures: circuit.failures }
        : { admitted: false, reason: "circuit_open", retryAt: admission.retryAt };
    }
    return this.admitAt(ref, sized(limits, need), trialLeaseMs);
  }

  /**
   * One admission at a tracker: a cached cool-down or open circuit denies at once; else a lease
   * with room admits (and renews in the background when it runs low); else a cached spent limit
   * denies; else the request waits for one tracker call, which also brings this isolate a lease.
   */
  private async admitAt(ref: TrackerRef, need: Need, trialLeaseMs?: number): Promise<AdmitResult> {
    const { name, circuitKey } = ref;
    const now = Date.now();
    const denied = cachedDenial(new Set([name, circuitKey]), now);
    if (denied && STOPS_LEASES.has(denied.reason)) return denied;
    const leased = this.fromLease(ref, need, now);
    if (leased) return leased;
    if (denied) return denied;
    noteWait(circuitKey, now);
    const returns = due(circuitKey, now);
    const started = performance.now();
    this.waits++;
    const asked = await this.ask(ref, need, (stub) => stub.admit(ref.limits!, trialLeaseMs, ref.member, { ...need, requests: wanted(circuitKey) }, returns));
    this.waitedMs += performance.now() - started;
    if (asked.admitted || asked.trackerError) return asked;
    // Denied, but a lease may have come in meanwhile (a concurrent request's): its admissions are counted already.
    return (!STOPS_LEASES.has(asked.reason) && this.fromLease(ref, need, Date.now())) || asked;
  }

  /** An admission drawn from this isolate's lease, when one has room; starts a renewal when it runs low. */
  private fromLease(ref: TrackerRef, need: Need, now: number): AdmitResult | undefined {
    const draw = take(ref.circuitKey, need.tokens, need.usd, now);
    if (!draw) return undefined;
    if (startRenewal(ref.circuitKey, now)) this.waitUntil(this.renew(ref, need));
    const reservation: Reservation = { ref, stamp: draw.lease.until, tokens: need.tokens, usd: need.usd, draw, settled: false };
    return { admitted: true, trial: false, failures: draw.lease.failures, reservation };
  }

  /** The next lease, asked for off the client's path, with the unused parts of ended ones given back. */
  private async renew(ref: TrackerRef, need: Need): Promise<void> {
    const { circuitKey } = ref;
    const returns = due(circuitKey, Date.now());
    try {
      const result = await this.ask(ref, need, (stub) => stub.admit(ref.limits!, undefined, ref.member, { ...need, requests: wanted(circuitKey), renewal: true }, returns));
      if (result.trackerError) this.onUnavailable(ref.member ?? ref.name, result.trackerError);
    } finally {
      renewalDone(circuitKey);
    }
  }

  /**
   * One admit call with a time limit. An admission keeps the lease that came with it and gives the
   * request its reservation; a denial is cached (a cool-down or an open circuit also ends this
   * isolate's leases there). A tracker that cannot answer admits or denies as on_tracker_error says.
   */
  private async ask(ref: TrackerRef, need: Need, call: (stub: Stub) => Promise<Admission>): Promise<AdmitResult> {
    const { name, circuitKey, limits } = ref;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${TRACKER_TIMEOUT_MS} ms`)), TRACKER_TIMEOUT_MS);
      });
      const result = await Promise.race([call(this.tracker(name, ref.locationHint)), timeout]);
      if (result.admitted) {
        if (limits?.requests_per_day) usageShares.set(name, result.requestsToday / limits.requests_per_day);
        // An older tracker (or a test double) may answer without a lease.
        if (result.lease) keep(circuitKey, result.lease, result.failures);
        const reservation: Reservation = { ref, stamp: result.at ?? Date.now(), tokens: need.tokens, usd: need.usd, settled: false };
        return { admitted: true, trial: result.trial, failures: result.failures, reservation };
      }
      const { admitted: _, ...cached } = result;
      // A member's open circuit is its own; the group's limits and cool-downs are everyone's. A request
      // that did not fit a budget that is not spent is not cached: the next, or a settlement, may fit.
      if (!result.unfit) denials.set(result.reason === "circuit_open" ? circuitKey : name, cached);
      if (result.reason === "daily") usageShares.set(name, 1);
      if (STOPS_LEASES.has(result.reason)) this.dropLeases(ref);
      return result;
    } catch (error) {
      // Leases given back in a call that failed may or may not have arrived: they stay counted at worst (an early denial, never a late admission).
      const trackerError = String((error as Error)?.message ?? error);
      if (ref.onError === "deny") return { admitted: false, reason: "quota_unavailable", retryAt: Date.now() + TRACKER_TIMEOUT_MS, trackerError };
      return { admitted: true, trial: false, failures: 0, trackerError };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Ends this isolate's leases at a tracker now (a cool-down, an open circuit) and gives their unused parts back. */
  private dropLeases(ref: TrackerRef): void {
    const parts = due(ref.circuitKey, Date.now(), true);
    if (parts.length) this.giveBackParts(ref, parts);
  }

  private giveBackParts(ref: TrackerRef, parts: LeaseRecord[]): void {
    this.background(ref.member ?? ref.name, () => this.tracker(ref.name, ref.locationHint).giveBack(ref.limits!, parts, ref.member));
  }

  /** Stops calling the provider until `cooldown.until`: at once in this isolate, then in its tracker. */
  coolDown(providerId: string, provider: ProviderConfig, cooldown: Cooldown): void {
    const ref = this.ref(providerId, provider);
    const { name } = ref;
    const current = denials.get(name);
    if (!current || current.retryAt < cooldown.until) {
      denials.set(name, { reason: "cooldown", retryAt: cooldown.until, cooldownReason: cooldown.reason });
    }
    const parts = ref.limits ? due(ref.circuitKey, Date.now(), true) : [];
    this.background(providerId, async () => {
      const tracker = this.tracker(name, ref.locationHint);
      await tracker.coolDown(cooldown.until, cooldown.reason);
      if (parts.length) await tracker.giveBack(ref.limits!, parts, ref.member);
    });
  }

  /** An outage failure: counts towards opening the provider's circuit, here or in its tracker. */
  circuitFailure(providerId: string, provider: ProviderConfig, kind: FailureKind): void {
    const ref = this.ref(providerId, provider);
    const { name, member, circuitKey, limits } = ref;
    const settings = breakerSettings(provider);
    unresetFailures.add(circuitKey);
    if (!limits) {
      let circuit = localCircuits.get(circuitKey);
      if (!circuit) localCircuits.set(circuitKey, (circuit = closedCircuit()));
      const openBefore = circuit.openUntil;
      circuitFailure(circuit, kind, Date.now(), settings);
      // No tracker decides this circuit; its tracker only shows it in /v1/quota, so it hears of each
      // opening (a write there costs time), not of every failure.
      if (circuit.openUntil !== openBefore) {
        const shown = { ...circuit };
        this.background(providerId, () => this.tracker(name, ref.locationHint).showCircuit(shown));
      }
      return;
    }
    this.background(providerId, async () => {
      const report = await this.tracker(name, ref.locationHint).circuitFailure(kind, settings, member);
      // The tracker opened it: later requests here skip the provider without an RPC, and its leases here end.
      if (report.open_until && report.state === "open") {
        denials.set(circuitKey, { reason: "circuit_open", retryAt: Date.parse(report.open_until) });
        this.dropLeases(ref);
      }
    });
  }

  /**
   * A success closes the provider's circuit. It is reported only when there may be something to
   * reset: failures at admission, or an outage this isolate reported since (a retry that then
   * succeeded, a concurrent request), so a healthy provider costs no extra tracker call.
   */
  circuitSuccess(providerId: string, provider: ProviderConfig, failuresBefore: number): void {
    const ref = this.ref(providerId, provider);
    const { name, member, circuitKey } = ref;
    localCircuits.delete(circuitKey);
    // Requests that met this trial in flight cached a short denial: the provider serves again now.
    if (denials.get(circuitKey)?.reason === "circuit_open") denials.delete(circuitKey);
    const reported = unresetFailures.delete(circuitKey);
    if (failuresBefore > 0 || reported) this.background(providerId, () => this.tracker(name, ref.locationHint).circuitSuccess(member));
  }

  /**
   * An answer's real usage against what its admission reserved, at the provider's tracker and the
   * client's: the difference is counted (more) or given back (less). Unknown usage keeps the
   * reservation as counted. A continuation's answers count on top of the client's first settlement.
   */
  settle(providerId: string, provider: ProviderConfig, reservation: Reservation | undefined, usage: Usage | undefined): void {
    const limits = this.ref(providerId, provider).limits;
    const ref = this.ref(providerId, provider);
    const real = usage && { tokens: usage.total_tokens, usd: costUsd(provider.price, usage) };
    if (reservation && !reservation.settled) this.settleOne(reservation, real);
    // Admitted while the tracker could not answer: what it used still counts once it can.
    else if (!reservation && real && ref.limits) this.settleOne({ ref, stamp: Date.now(), tokens: 0, usd: 0, settled: false }, real);
    const client = this.clientRef();
    if (!client) return;
    if (this.clientReservation && !this.clientReservation.settled) this.settleOne(this.clientReservation, real);
    else if (real) this.settleOne({ ref: client, stamp: Date.now(), tokens: 0, usd: 0, settled: false }, real);
  }

  /** A failed attempt used nothing of its reservation: all of it goes back (its request still counts). */
  giveBackUnused(reservation: Reservation | undefined): void {
    if (reservation && !reservation.settled) this.settleOne(reservation, { tokens: 0, usd: 0 });
  }

  /** The request ended: a client reservation no answer settled (every provider failed) goes back. */
  finish(): void {
    this.giveBackUnused(this.clientReservation);
  }

  private settleOne(reservation: Reservation, real: { tokens: number; usd: number | undefined } | undefined): void {
    reservation.settled = true;
    const { ref } = reservation;
    const limits = ref.limits;
    if (!limits || !real) return;
    const settlement: Settlement = {
      until: reservation.stamp,
      tokens: countsTokens(limits) ? real.tokens - reservation.tokens : 0,
      usd: countsUsd(limits) && real.usd !== undefined ? real.usd - reservation.usd : 0,
    };
    if (!settlement.tokens && !settlement.usd) return;
    this.background(ref.member ?? ref.name, () => this.tracker(ref.name, ref.locationHint).settle(limits, [settlement], ref.member));
  }

  /**
   * Gives back every lease this isolate holds (GET /v1/quota, before it reads the counts, so that
   * what it shows is what was used, as far as this isolate goes). Waited for.
   */
  async returnLeases(config: Pick<RouterConfig, "providers" | "clients">): Promise<void> {
    const refs = new Map<string, TrackerRef>();
    for (const [id, provider] of Object.entries(config.providers)) {
      const ref = this.ref(id, provider);
      if (ref.limits) refs.set(ref.circuitKey, ref);
    }
    for (const [name, client] of Object.entries(config.clients)) {
      const ref = this.clientRef({ name, config: client });
      if (ref) refs.set(ref.circuitKey, ref);
    }
    await Promise.all(
      heldKeys().flatMap((key) => {
        const ref = refs.get(key);
        const parts = ref ? due(key, Date.now(), true) : [];
        return parts.length ? [this.tracker(ref!.name, ref!.locationHint).giveBack(ref!.limits!, parts, ref!.member).catch(() => {})] : [];
      }),
    );
  }

  /** Runs a tracker call after the answer; a failure there is logged, never the client's problem. */
  private background(providerId: string, call: () => Promise<unknown>): void {
    this.waitUntil((async () => call())().catch((error) => this.onUnavailable(providerId, String((error as Error)?.message ?? error))));
  }
}

/** What a request reserves at a tracker with these limits: tokens and USD only where they count. */
function sized(limits: QuotaLimits | undefined, need: Need): Need {
  return { tokens: countsTokens(limits) ? need.tokens : 0, usd: countsUsd(limits) ? need.usd : 0 };
}
