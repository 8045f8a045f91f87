// QuotaTracker: one SQLite-backed Durable Object per provider (see quota/client.ts for its name).
// A Durable Object handles one event at a time, so admit() is exact: N concurrent requests against
// a limit of L admit exactly min(N, L). Limits come with every call, so a config change needs no
// migration; the state is written to storage on every change, so it survives eviction.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import {
  admit,
  coolDown,
  emptyState,
  recordTokens,
  snapshot,
  type Admission,
  type QuotaLimits,
  type QuotaSnapshot,
  type QuotaState,
} from "./window.ts";

const KEY = "state";

export class QuotaTracker extends DurableObject<Env> {
  private state: QuotaState = this.ctx.storage.kv.get<QuotaState>(KEY) ?? emptyState();

  private save(): void {
    this.ctx.storage.kv.put(KEY, this.state);
  }

  admit(limits: QuotaLimits): Admission {
    const result = admit(this.state, limits, Date.now());
    this.save();
    return result;
  }

  recordTokens(tokens: number, limits: QuotaLimits): void {
    recordTokens(this.state, tokens, limits, Date.now());
    this.save();
  }

  coolDown(until: number, reason: string): void {
    coolDown(this.state, until, reason);
    this.save();
  }

  snapshot(limits: QuotaLimits): QuotaSnapshot {
    return snapshot(this.state, limits, Date.now());
  }
}
