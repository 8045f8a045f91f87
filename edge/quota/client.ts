// The edge's side of quota tracking: one admit() RPC per attempt at most, none for providers
// without limits, and none at all while an isolate-cached denial is still in force.
// Reports (cool-downs, token counts) go through waitUntil, off the client's path.
import type { ProviderConfig } from "../../shared/config.ts";
import type { Env } from "../env.ts";
import type { Cooldown } from "./cooldown.ts";
import type { DenyReason, QuotaLimits } from "./window.ts";

/** Denials by tracker name, kept in the isolate until they expire. */
const denials = new Map<string, { reason: DenyReason; retryAt: number }>();

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
  | { admitted: true; trackerError?: string }
  | { admitted: false; reason: DenyReason; retryAt: number };

export class QuotaClient {
  private readonly env: Env;
  private readonly waitUntil: (promise: Promise<unknown>) => void;

  constructor(env: Env, waitUntil: (promise: Promise<unknown>) => void) {
    this.env = env;
    this.waitUntil = waitUntil;
  }

  private tracker(name: string) {
    return this.env.QUOTA.get(this.env.QUOTA.idFromName(name));
  }

  /** Asks the provider's tracker to admit one request; fails open when the tracker cannot answer. */
  async admit(providerId: string, provider: ProviderConfig): Promise<AdmitResult> {
    const name = trackerName(providerId, provider);
    const now = Date.now();
    const denial = denials.get(name);
    if (denial) {
      if (denial.retryAt > now) return { admitted: false, ...denial };
      denials.delete(name);
    }
    const limits = limitsOf(provider);
    if (!limits) return { admitted: true };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${TRACKER_TIMEOUT_MS} ms`)), TRACKER_TIMEOUT_MS);
      });
      const result = await Promise.race([this.tracker(name).admit(limits), timeout]);
      if (!result.admitted) denials.set(name, { reason: result.reason, retryAt: result.retryAt });
      return result;
    } catch (error) {
      return { admitted: true, trackerError: String((error as Error)?.message ?? error) };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Stops calling the provider until `cooldown.until`: at once in this isolate, then in its tracker. */
  coolDown(providerId: string, provider: ProviderConfig, cooldown: Cooldown): void {
    const name = trackerName(providerId, provider);
    const current = denials.get(name);
    if (!current || current.retryAt < cooldown.until) denials.set(name, { reason: "cooldown", retryAt: cooldown.until });
    this.background(() => this.tracker(name).coolDown(cooldown.until, cooldown.reason));
  }

  /** Counts an answer's tokens, for providers with token budgets. */
  recordTokens(providerId: string, provider: ProviderConfig, tokens: number | undefined): void {
    const limits = limitsOf(provider);
    if (!tokens || !limits || (limits.tokens_per_day === undefined && limits.tokens_per_minute === undefined)) return;
    const name = trackerName(providerId, provider);
    this.background(() => this.tracker(name).recordTokens(tokens, limits));
  }

  /** Runs a tracker call after the answer; a failure there is logged, never the client's problem. */
  private background(call: () => Promise<unknown>): void {
    this.waitUntil(
      (async () => call())().catch((error) => {
        console.error(JSON.stringify({ ts: new Date().toISOString(), event: "quota_unavailable", message: String(error) }));
      }),
    );
  }
}
