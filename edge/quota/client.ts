// The edge's side of quota tracking and circuits: one admit() RPC per attempt at most, none for
// providers without limits, and none at all while an isolate-cached denial is still in force.
// Reports (cool-downs, token counts, circuit outcomes) go through waitUntil, off the client's path.
//
// Circuits: a provider with limits has its circuit in its tracker, checked by the same admit() RPC,
// so every isolate sees it. A provider without limits has no admit() call to carry it, so its
// circuit lives in this isolate; its outcomes are still reported to its tracker for /v1/quota.
import type { ProviderConfig } from "../../shared/config.ts";
import type { Env } from "../env.ts";
import { breakerSettings, circuitAdmit, circuitFailure, closedCircuit, type CircuitState, type FailureKind } from "./circuit.ts";
import type { Cooldown } from "./cooldown.ts";
import type { DenyReason, QuotaLimits } from "./window.ts";

interface Denial {
  reason: DenyReason;
  retryAt: number;
  cooldownReason?: string;
}

/** Denials by tracker name, kept in the isolate until they expire. */
const denials = new Map<string, Denial>();
/** Circuits of providers without a tracker, by tracker name. */
const localCircuits = new Map<string, CircuitState>();
/** Tracker names this isolate reported an outage for since it last reported a success: the next success resets them. */
const unresetFailures = new Set<string>();

const TRACKER_TIMEOUT_MS = 1_000;

/**
 * One tracker per provider id, model and endpoint: providers count per model (Groq, Gemini), so a
 * changed model starts its own counts.
 */
export function trackerName(providerId: string, provider: ProviderConfig): string {
  return `${providerId}|${provider.model}|${provider.base_url}`;
}

export function limitsOf(provider: ProviderConfig): QuotaLimits | undefined {
  const { requests_per_day, requests_per_minute, tokens_per_day, tokens_per_minute, daily_reset_tz } = provider;
  if (requests_per_day === undefined && requests_per_minute === undefined && tokens_per_day === undefined && tokens_per_minute === undefined) {
    return undefined;
  }
  return { requests_per_day, requests_per_minute, tokens_per_day, tokens_per_minute, daily_reset_tz };
}

export type AdmitResult =
  | { admitted: true; /** The one call a half-open circuit lets through: not retried. */ trial: boolean; failures: number; trackerError?: string }
  | ({ admitted: false } & Denial);

export class QuotaClient {
  private readonly env: Env;
  private readonly waitUntil: (promise: Promise<unknown>) => void;
  private readonly onUnavailable: (providerId: string, message: string) => void;

  /** `onUnavailable` logs a tracker that could not answer, under the request's id. */
  constructor(env: Env, waitUntil: (promise: Promise<unknown>) => void, onUnavailable: (providerId: string, message: string) => void) {
    this.env = env;
    this.waitUntil = waitUntil;
    this.onUnavailable = onUnavailable;
  }

  private tracker(name: string) {
    return this.env.QUOTA.get(this.env.QUOTA.idFromName(name));
  }

  /**
   * Asks the provider's tracker to admit one request (limits and circuit in one RPC); fails open
   * when the tracker cannot answer. `trialLeaseMs`: how long a half-open trial may take.
   */
  async admit(providerId: string, provider: ProviderConfig, trialLeaseMs: number): Promise<AdmitResult> {
    const name = trackerName(providerId, provider);
    const now = Date.now();
    const denial = denials.get(name);
    if (denial) {
      if (denial.retryAt > now) return { admitted: false, ...denial };
      denials.delete(name);
    }
    const limits = limitsOf(provider);
    if (!limits) {
      const circuit = localCircuits.get(name);
      if (!circuit) return { admitted: true, trial: false, failures: 0 };
      const admission = circuitAdmit(circuit, now, trialLeaseMs);
      return admission.ok
        ? { admitted: true, trial: admission.trial, failures: circuit.failures }
        : { admitted: false, reason: "circuit_open", retryAt: admission.retryAt };
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${TRACKER_TIMEOUT_MS} ms`)), TRACKER_TIMEOUT_MS);
      });
      const result = await Promise.race([this.tracker(name).admit(limits, trialLeaseMs), timeout]);
      if (!result.admitted) {
        const { admitted: _, ...cached } = result;
        denials.set(name, cached);
      }
      return result;
    } catch (error) {
      return { admitted: true, trial: false, failures: 0, trackerError: String((error as Error)?.message ?? error) };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
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
    const name = trackerName(providerId, provider);
    const settings = breakerSettings(provider);
    if (!limitsOf(provider)) {
      let circuit = localCircuits.get(name);
      if (!circuit) localCircuits.set(name, (circuit = closedCircuit()));
      circuitFailure(circuit, kind, Date.now(), settings);
    }
    unresetFailures.add(name);
    this.background(providerId, async () => {
      const report = await this.tracker(name).circuitFailure(kind, settings);
      // The tracker opened it: later requests here skip the provider without an RPC.
      if (limitsOf(provider) && report.open_until && report.state === "open") {
        denials.set(name, { reason: "circuit_open", retryAt: Date.parse(report.open_until) });
      }
    });
  }

  /**
   * A success closes the provider's circuit. It is reported only when there may be something to
   * reset: failures at admission, or an outage this isolate reported since (a retry that then
   * succeeded, a concurrent request), so a healthy provider costs no extra tracker call.
   */
  circuitSuccess(providerId: string, provider: ProviderConfig, failuresBefore: number): void {
    const name = trackerName(providerId, provider);
    localCircuits.delete(name);
    // Requests that met this trial in flight cached a short denial: the provider serves again now.
    if (denials.get(name)?.reason === "circuit_open") denials.delete(name);
    const reported = unresetFailures.delete(name);
    if (failuresBefore > 0 || reported) this.background(providerId, () => this.tracker(name).circuitSuccess());
  }

  /** Counts an answer's tokens, for providers with token budgets. */
  recordTokens(providerId: string, provider: ProviderConfig, tokens: number | undefined): void {
    const limits = limitsOf(provider);
    if (!tokens || !limits || (limits.tokens_per_day === undefined && limits.tokens_per_minute === undefined)) return;
    const name = trackerName(providerId, provider);
    this.background(providerId, () => this.tracker(name).recordTokens(tokens, limits));
  }

  /** Runs a tracker call after the answer; a failure there is logged, never the client's problem. */
  private background(providerId: string, call: () => Promise<unknown>): void {
    this.waitUntil((async () => call())().catch((error) => this.onUnavailable(providerId, String((error as Error)?.message ?? error))));
  }
}
