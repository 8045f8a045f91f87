// The edge's side of quota tracking and circuits: one admit() RPC per attempt at most, none for
// providers without limits, and none at all while an isolate-cached denial is still in force.
// Reports (cool-downs, token counts, circuit outcomes) go through waitUntil, off the client's path.
//
// Circuits: a provider with limits has its circuit in its tracker, checked by the same admit() RPC,
// so every isolate sees it. A provider without limits has no admit() call to carry it, so its
// circuit lives in this isolate; its outcomes are still reported to its tracker for /v1/quota.
//
// Providers in a quota group share the group's tracker and limits; each keeps its own circuit
// there (the `member` argument). A client with limits has a tracker of its own, admitted once per
// request on top of the provider's (admitClient).
import type { ClientConfig, ProviderConfig, QuotaGroupConfig } from "../../shared/config.ts";
import type { Env } from "../env.ts";
import { breakerSettings, circuitAdmit, circuitFailure, closedCircuit, type CircuitState, type FailureKind } from "./circuit.ts";
import type { Cooldown } from "./cooldown.ts";
import type { Admission, DenyReason, QuotaLimits } from "./window.ts";

interface Denial {
  reason: DenyReason;
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

type Groups = Readonly<Record<string, QuotaGroupConfig>>;

/** The limits a provider is admitted against: its group's when it is in one, else its own. */
export function limitsOf(provider: ProviderConfig, groups: Groups = {}): QuotaLimits | undefined {
  return limitsFrom(provider.quota_group !== undefined ? (groups[provider.quota_group] ?? {}) : provider);
}

/** Limits from a provider, a quota group or a client; undefined when none is set (no tracker call). */
export function limitsFrom(source: QuotaLimits): QuotaLimits | undefined {
  const { requests_per_day, requests_per_minute, tokens_per_day, tokens_per_minute, daily_reset_tz } = source;
  if (requests_per_day === undefined && requests_per_minute === undefined && tokens_per_day === undefined && tokens_per_minute === undefined) {
    return undefined;
  }
  return { requests_per_day, requests_per_minute, tokens_per_day, tokens_per_minute, daily_reset_tz };
}

/** Where a provider's counts and circuit live: the tracker, its member key in a group's, and its limits. */
interface TrackerRef {
  name: string;
  member?: string;
  /** Key of the provider's circuit in the isolate (denials, local circuits). */
  circuitKey: string;
  limits?: QuotaLimits;
}

export interface RequestClient {
  name: string;
  config: ClientConfig;
}

/** A denial this isolate still holds for any of `keys`; expired ones are dropped. */
function cachedDenial(keys: Iterable<string>, now: number): (Denial & { admitted: false }) | undefined {
  for (const key of keys) {
    const denial = denials.get(key);
    if (!denial) continue;
    if (denial.retryAt > now) return { admitted: false, ...denial };
    denials.delete(key);
  }
  return undefined;
}

export type AdmitResult =
  | { admitted: true; /** The one call a half-open circuit lets through: not retried. */ trial: boolean; failures: number; trackerError?: string }
  | ({ admitted: false } & Denial);

export class QuotaClient {
  private readonly env: Env;
  private readonly waitUntil: (promise: Promise<unknown>) => void;
  private readonly onUnavailable: (providerId: string, message: string) => void;

  /** `onUnavailable` logs a tracker that could not answer, under the request's id. */
  private readonly groups: Groups;
  /** The named client this request came from, when it has limits of its own. */
  private readonly client?: RequestClient;
  /** This request holds an admission from its client's tracker (to give back if it calls no provider). */
  private clientAdmitted = false;

  /** `onUnavailable` logs a tracker that could not answer, under the request's id. */
  constructor(
    env: Env,
    waitUntil: (promise: Promise<unknown>) => void,
    onUnavailable: (providerId: string, message: string) => void,
    options: { groups?: Groups; client?: RequestClient } = {},
  ) {
    this.env = env;
    this.waitUntil = waitUntil;
    this.onUnavailable = onUnavailable;
    this.groups = options.groups ?? {};
    this.client = options.client;
  }

  private tracker(name: string) {
    return this.env.QUOTA.get(this.env.QUOTA.idFromName(name));
  }

  private ref(providerId: string, provider: ProviderConfig): TrackerRef {
    const name = trackerName(providerId, provider);
    const member = provider.quota_group !== undefined ? providerId : undefined;
    return { name, member, circuitKey: member === undefined ? name : `${name}#${member}`, limits: limitsOf(provider, this.groups) };
  }

  /**
   * Admits the request against its client's own limits: one call to the client's tracker, none
   * for PROXY_API_KEYS keys and clients without limits. Fails open like a provider's admission.
   */
  async admitClient(): Promise<AdmitResult> {
    const limits = this.client && limitsFrom(this.client.config);
    if (!this.client || !limits) return { admitted: true, trial: false, failures: 0 };
    const name = clientTrackerName(this.client.name);
    const denied = cachedDenial([name], Date.now());
    if (denied) return denied;
    const result = await this.ask(name, limits, (stub) => stub.admit(limits));
    if (result.admitted && !result.trackerError) this.clientAdmitted = true;
    return result;
  }

  /**
   * Only requests that call a provider count against a client's limits, but the client is admitted
   * before any provider is (so a client over its limit costs no provider anything): a request that
   * then called no provider at all gives its admission back, after the answer.
   */
  releaseClient(): void {
    if (!this.clientAdmitted || !this.client) return;
    this.clientAdmitted = false;
    const name = clientTrackerName(this.client.name);
    this.background(this.client.name, () => this.tracker(name).release());
  }

  /** One admit call with the isolate's denial cache in front and a time limit; fails open. */
  private async ask(name: string, limits: QuotaLimits, call: (stub: ReturnType<QuotaClient["tracker"]>) => Promise<Admission>, circuitKey = name): Promise<AdmitResult> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${TRACKER_TIMEOUT_MS} ms`)), TRACKER_TIMEOUT_MS);
      });
      const result = await Promise.race([call(this.tracker(name)), timeout]);
      if (result.admitted) {
        if (limits.requests_per_day) usageShares.set(name, result.requestsToday / limits.requests_per_day);
      } else {
        const { admitted: _, ...cached } = result;
        // A member's open circuit is its own; the group's limits and cool-downs are everyone's.
        denials.set(result.reason === "circuit_open" ? circuitKey : name, cached);
        if (result.reason === "daily") usageShares.set(name, 1);
      }
      return result;
    } catch (error) {
      return { admitted: true, trial: false, failures: 0, trackerError: String((error as Error)?.message ?? error) };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /**
   * Asks the provider's tracker to admit one request (limits and circuit in one RPC); fails open
   * when the tracker cannot answer. `trialLeaseMs`: how long a half-open trial may take.
   */
  async admit(providerId: string, provider: ProviderConfig, trialLeaseMs: number): Promise<AdmitResult> {
    const { name, member, circuitKey, limits } = this.ref(providerId, provider);
    const now = Date.now();
    const denied = cachedDenial(new Set([name, circuitKey]), now);
    if (denied) return denied;
    if (!limits) {
      const circuit = localCircuits.get(circuitKey);
      if (!circuit) return { admitted: true, trial: false, failures: 0 };
      const admission = circuitAdmit(circuit, now, trialLeaseMs);
      return admission.ok
        ? { admitted: true, trial: admission.trial, failures: circuit.failures }
        : { admitted: false, reason: "circuit_open", retryAt: admission.retryAt };
    }
    return this.ask(name, limits, (stub) => stub.admit(limits, trialLeaseMs, member), circuitKey);
  }

  /** Stops calling the provider until `cooldown.until`: at once in this isolate, then in its tracker. */
  coolDown(providerId: string, provider: ProviderConfig, cooldown: Cooldown): void {
    const name = trackerName(providerId, provider);
    const current = denials.get(name);
    if (!current || current.retryAt < cooldown.until) {
      denials.set(name, { reason: "cooldown", retryAt: cooldown.until, cooldownReason: cooldown.reason });
    }
    this.background(providerId, () => this.tracker(name).coolDown(cooldown.until, cooldown.reason));
  }

  /** An outage failure: counts towards opening the provider's circuit, here or in its tracker. */
  circuitFailure(providerId: string, provider: ProviderConfig, kind: FailureKind): void {
    const { name, member, circuitKey, limits } = this.ref(providerId, provider);
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
        this.background(providerId, () => this.tracker(name).showCircuit(shown));
      }
      return;
    }
    this.background(providerId, async () => {
      const report = await this.tracker(name).circuitFailure(kind, settings, member);
      // The tracker opened it: later requests here skip the provider without an RPC.
      if (report.open_until && report.state === "open") {
        denials.set(circuitKey, { reason: "circuit_open", retryAt: Date.parse(report.open_until) });
      }
    });
  }

  /**
   * A success closes the provider's circuit. It is reported only when there may be something to
   * reset: failures at admission, or an outage this isolate reported since (a retry that then
   * succeeded, a concurrent request), so a healthy provider costs no extra tracker call.
   */
  circuitSuccess(providerId: string, provider: ProviderConfig, failuresBefore: number): void {
    const { name, member, circuitKey } = this.ref(providerId, provider);
    localCircuits.delete(circuitKey);
    // Requests that met this trial in flight cached a short denial: the provider serves again now.
    if (denials.get(circuitKey)?.reason === "circuit_open") denials.delete(circuitKey);
    const reported = unresetFailures.delete(circuitKey);
    if (failuresBefore > 0 || reported) this.background(providerId, () => this.tracker(name).circuitSuccess(member));
  }

  /** Counts an answer's tokens, for providers (and the request's client) with token budgets. */
  recordTokens(providerId: string, provider: ProviderConfig, tokens: number | undefined): void {
    if (!tokens) return;
    const { name, member, limits } = this.ref(providerId, provider);
    if (limits && (limits.tokens_per_day !== undefined || limits.tokens_per_minute !== undefined)) {
      this.background(providerId, () => this.tracker(name).recordTokens(tokens, limits, member));
    }
    const clientLimits = this.client && limitsFrom(this.client.config);
    if (this.client && clientLimits?.tokens_per_day !== undefined) {
      const clientName = clientTrackerName(this.client.name);
      this.background(providerId, () => this.tracker(clientName).recordTokens(tokens, clientLimits));
    }
  }

  /** Runs a tracker call after the answer; a failure there is logged, never the client's problem. */
  private background(providerId: string, call: () => Promise<unknown>): void {
    this.waitUntil((async () => call())().catch((error) => this.onUnavailable(providerId, String((error as Error)?.message ?? error))));
  }
}
