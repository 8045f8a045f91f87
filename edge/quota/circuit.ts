// The circuit breaker, as pure functions with time passed in: consecutive outage failures open a
// provider's circuit, an open circuit is skipped without a call, and when its cool-down ends exactly
// one trial goes through. The QuotaTracker holds one of these per tracked provider (every isolate
// sees it); the edge holds one per isolate for providers without a tracker.
import type { ProviderConfig } from "../../shared/config.ts";
import { PROVIDER_DEFAULTS } from "../../shared/config.ts";

export interface BreakerSettings {
  failures: number;
  cooldownMs: number;
  maxCooldownMs: number;
}

export interface CircuitState {
  /** Consecutive outage failures (retries included); a success resets it. */
  failures: number;
  /** 0 while closed; else when the open circuit allows its next trial. */
  openUntil: number;
  /** The cool-down the circuit last opened for: what a timed-out trial doubles. */
  cooldownMs: number;
  /** While a trial is out: until when the others keep skipping (the trial's own time limit). */
  trialUntil: number;
}

/**
 * How a provider failed, for how long its circuit stays open: an answered error or a refused
 * connection costs a trial little ("fast"), a timeout costs it the whole timeout ("slow").
 */
export type FailureKind = "fast" | "slow";

export type CircuitName = "closed" | "open" | "half_open";

/** How long a request that met a trial in flight treats the provider as skipped (and caches that). */
export const TRIAL_POLL_MS = 1_000;

export type CircuitAdmission = { ok: true; trial: boolean } | { ok: false; retryAt: number };

export function closedCircuit(): CircuitState {
  return { failures: 0, openUntil: 0, cooldownMs: 0, trialUntil: 0 };
}

export function breakerSettings(provider: ProviderConfig): BreakerSettings {
  return {
    failures: provider.breaker_failures ?? PROVIDER_DEFAULTS.breaker_failures,
    cooldownMs: provider.breaker_cooldown_ms ?? PROVIDER_DEFAULTS.breaker_cooldown_ms,
    maxCooldownMs: provider.breaker_max_cooldown_ms ?? PROVIDER_DEFAULTS.breaker_max_cooldown_ms,
  };
}

/** May a request call the provider now? Past the cool-down, the first caller becomes the one trial. */
export function circuitAdmit(state: CircuitState, now: number, trialLeaseMs: number): CircuitAdmission {
  if (state.openUntil === 0) return { ok: true, trial: false };
  if (now < state.openUntil) return { ok: false, retryAt: state.openUntil };
  // While a trial is out, its outcome is due any moment: ask again within a second, not at its lease's end.
  if (now < state.trialUntil) return { ok: false, retryAt: Math.min(state.trialUntil, now + TRIAL_POLL_MS) };
  // A trial whose caller never reported (its isolate went away) frees the next one at trialUntil.
  state.trialUntil = now + trialLeaseMs;
  return { ok: true, trial: true };
}

/** Counts an outage failure; opens the circuit at the threshold, reopens it after a failed trial. */
export function circuitFailure(state: CircuitState, kind: FailureKind, now: number, settings: BreakerSettings): void {
  state.failures++;
  if (state.openUntil !== 0) {
    // A trial failed (or a call admitted before the circuit opened): open again. Timeouts back off.
    state.cooldownMs = kind === "slow" ? Math.min(Math.max(state.cooldownMs, settings.cooldownMs) * 2, settings.maxCooldownMs) : settings.cooldownMs;
  } else if (state.failures >= settings.failures) {
    state.cooldownMs = settings.cooldownMs;
  } else {
    return;
  }
  state.openUntil = now + state.cooldownMs;
  state.trialUntil = 0;
}

export function circuitSuccess(state: CircuitState): void {
  Object.assign(state, closedCircuit());
}

export function circuitName(state: CircuitState, now: number): CircuitName {
  if (state.openUntil === 0) return "closed";
  return now < state.openUntil ? "open" : "half_open";
}

export interface CircuitReport {
  state: CircuitName;
  failures: number;
  open_until: string | null;
}

export function circuitReport(state: CircuitState, now: number): CircuitReport {
  return {
    state: circuitName(state, now),
    failures: state.failures,
    open_until: state.openUntil === 0 ? null : new Date(state.openUntil).toISOString(),
  };
}
