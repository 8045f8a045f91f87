// What an attempt teaches about its provider, for the requests after this one: cool-downs from
// rate limits and dead keys, the circuit from outages, tokens from answers. All of it is recorded
// off the client's path (the isolate at once, the tracker through waitUntil).
import type { ErrorCategory } from "../../shared/errors.ts";
import type { Usage } from "../../shared/openai.ts";
import { cooldownForFailure, cooldownFromHeaders, type Cooldown } from "../quota/cooldown.ts";
import type { QuotaClient } from "../quota/client.ts";
import type { StreamEnd } from "../stream/types.ts";
import type { Admitted, AttemptFailure } from "./types.ts";

/** Failures that say the provider is down (not that the request or the key is wrong): they open circuits. */
export const OUTAGE_CATEGORIES: ReadonlySet<ErrorCategory> = new Set(["Timeout", "NetworkError", "ServerError"]);

/**
 * An answer: a provider that says it has no requests left cools down, and a JSON answer closes its
 * circuit. A stream closes it only when it ends well (learnFromStreamEnd): one that breaks after it
 * began counts as an outage, so a provider that cuts every stream still opens its circuit.
 */
export function learnFromSuccess(quota: QuotaClient, admitted: Admitted, upstreamHeaders: Headers, streamed: boolean): void {
  const { providerId, provider } = admitted;
  const exhausted = cooldownFromHeaders(upstreamHeaders, Date.now());
  if (exhausted) quota.coolDown(providerId, provider, exhausted);
  if (!streamed) quota.circuitSuccess(providerId, provider, admitted.failures);
}

/**
 * A failure: the cool-down it earns (returned, for the client's retry-after) unless the caller is
 * about to wait it out itself, and a count towards the circuit when it was an outage.
 */
export function learnFromFailure(
  quota: QuotaClient,
  admitted: Admitted,
  failed: AttemptFailure,
  options: { coolDown: boolean; countsForCircuit: boolean },
): Cooldown | undefined {
  const { providerId, provider } = admitted;
  if (options.countsForCircuit) countOutage(quota, admitted, failed.category);
  if (!options.coolDown) return undefined;
  const cooldown = cooldownForFailure(failed.category, failed.retryAfterMs, failed.headers, provider, Date.now());
  if (cooldown) quota.coolDown(providerId, provider, cooldown);
  return cooldown;
}

/**
 * An outage counts towards the provider's circuit; a timeout is the slow kind (circuit.ts). Other
 * errors neither count nor reset, except for a half-open circuit's trial: an error the provider
 * answered (a 400, a 429, a dead key) says it is up and closes the circuit, which would otherwise
 * keep the trial out (the others skipping the provider) until its lease ends.
 */
export function countOutage(quota: QuotaClient, admitted: Admitted, category: ErrorCategory): void {
  if (OUTAGE_CATEGORIES.has(category)) quota.circuitFailure(admitted.providerId, admitted.provider, category === "Timeout" ? "slow" : "fast");
  else if (admitted.trial && category !== "Unknown") quota.circuitSuccess(admitted.providerId, admitted.provider, admitted.failures);
}

/** The tokens and cost an answer used, settled against what its admission reserved (token and USD budgets). */
export function learnTokens(quota: QuotaClient, admitted: Admitted, usage: Usage | undefined): void {
  quota.settle(admitted.providerId, admitted.provider, admitted.reservation, usage);
}

/** A failed attempt that moves on: its reservation goes back (its request still counts: the provider was called). */
export function learnNothingUsed(quota: QuotaClient, admitted: Admitted): void {
  quota.giveBackUnused(admitted.reservation);
}

/** A stream that broke after it began (continued or not) is an outage for its provider's circuit; one that ended well closes it. */
export function learnFromStreamEnd(quota: QuotaClient, admitted: Admitted, end: StreamEnd): void {
  if (end.tap.broke) countOutage(quota, admitted, end.tap.broke.category);
  else if (end.outcome === "completed") quota.circuitSuccess(admitted.providerId, admitted.provider, admitted.failures);
}
