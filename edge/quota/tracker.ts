// QuotaTracker: one SQLite-backed Durable Object per provider (see quota/client.ts for its name).
// A Durable Object handles one event at a time, so admit() is exact: N concurrent requests against
// a limit of L admit exactly min(N, L). Limits come with every call, so a config change needs no
// migration.
//
// Storage is written incrementally so an admit writes a constant amount however busy the minute:
// the scalar counters (day, counts, cool-down, circuit) are one small KV value, and the sliding
// window's admissions and token records are SQL rows, inserted one at a time and deleted once
// they leave the window.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { circuitFailure, circuitReport, circuitSuccess, type BreakerSettings, type CircuitReport, type FailureKind } from "./circuit.ts";
import {
  admit,
  coolDown,
  emptyState,
  recordTokens,
  snapshot,
  WINDOW_MS,
  type Admission,
  type QuotaLimits,
  type QuotaSnapshot,
  type QuotaState,
} from "./window.ts";

const COUNTERS = "counters";
/** The whole state in one value, as the first version stored it: read once, then moved to the new layout. */
const LEGACY_STATE = "state";

type Counters = Omit<QuotaState, "window" | "windowTokens">;

export class QuotaTracker extends DurableObject<Env> {
  private readonly state: QuotaState;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS admissions (at INTEGER NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS token_records (at INTEGER NOT NULL, tokens INTEGER NOT NULL)");
    this.state = this.load();
  }

  private load(): QuotaState {
    const kv = this.ctx.storage.kv;
    const legacy = kv.get<QuotaState>(LEGACY_STATE);
    if (legacy) {
      const state = { ...emptyState(), ...legacy };
      for (const at of state.window) this.sql.exec("INSERT INTO admissions (at) VALUES (?)", at);
      for (const [at, tokens] of state.windowTokens) this.sql.exec("INSERT INTO token_records (at, tokens) VALUES (?, ?)", at, tokens);
      kv.delete(LEGACY_STATE);
      this.saveCounters(state);
      return state;
    }
    const cutoff = Date.now() - WINDOW_MS;
    const sql = this.sql;
    return {
      ...emptyState(),
      ...kv.get<Counters>(COUNTERS),
      window: sql.exec<{ at: number }>("SELECT at FROM admissions WHERE at > ? ORDER BY at", cutoff).toArray().map((row) => row.at),
      windowTokens: sql
        .exec<{ at: number; tokens: number }>("SELECT at, tokens FROM token_records WHERE at > ? ORDER BY at", cutoff)
        .toArray()
        .map((row) => [row.at, row.tokens] as [number, number]),
    };
  }

  private saveCounters(state = this.state): void {
    const { window: _window, windowTokens: _tokens, ...counters } = state;
    this.ctx.storage.kv.put(COUNTERS, counters);
  }

  /** Runs one change and writes the counters, and deletes the window rows roll() let expire. */
  private change<T>(apply: (state: QuotaState, now: number) => T): T {
    const now = Date.now();
    const oldest = this.state.window[0];
    const oldestTokens = this.state.windowTokens[0];
    const result = apply(this.state, now);
    const cutoff = now - WINDOW_MS;
    if (oldest !== undefined && this.state.window[0] !== oldest) this.sql.exec("DELETE FROM admissions WHERE at <= ?", cutoff);
    if (oldestTokens !== undefined && this.state.windowTokens[0] !== oldestTokens) {
      this.sql.exec("DELETE FROM token_records WHERE at <= ?", cutoff);
    }
    this.saveCounters();
    return result;
  }

  private get sql() {
    return this.ctx.storage.sql;
  }

  admit(limits: QuotaLimits, trialLeaseMs?: number): Admission {
    return this.change((state, now) => {
      const result = admit(state, limits, now, trialLeaseMs);
      if (result.admitted) this.sql.exec("INSERT INTO admissions (at) VALUES (?)", now);
      return result;
    });
  }

  recordTokens(tokens: number, limits: QuotaLimits): void {
    this.change((state, now) => {
      const before = state.windowTokens.length;
      recordTokens(state, tokens, limits, now);
      if (state.windowTokens.length > before) this.sql.exec("INSERT INTO token_records (at, tokens) VALUES (?, ?)", now, tokens);
    });
  }

  coolDown(until: number, reason: string): void {
    this.change((state) => coolDown(state, until, reason));
  }

  /** An outage failure (Timeout, NetworkError, ServerError): returns the circuit as it now stands. */
  circuitFailure(kind: FailureKind, settings: BreakerSettings): CircuitReport {
    return this.change((state, now) => {
      circuitFailure(state.circuit, kind, now, settings);
      return circuitReport(state.circuit, now);
    });
  }

  circuitSuccess(): void {
    this.change((state) => circuitSuccess(state.circuit));
  }

  snapshot(limits: QuotaLimits): QuotaSnapshot {
    return snapshot(this.state, limits, Date.now());
  }
}
