// QuotaTracker: one SQLite-backed Durable Object per provider (see quota/client.ts for its name).
// A Durable Object handles one event at a time, so admit() is exact: N concurrent requests against
// a limit of L admit exactly min(N, L). Limits come with every call, so a config change needs no
// migration.
//
// Storage is written incrementally so an admit writes a constant amount however busy the minute:
// the scalar counters (day, counts, cool-down, circuit) are one small KV value, and the sliding
// window's admissions and token records are SQL rows, inserted one at a time and deleted once
// they leave the window.
//
// The same class serves three kinds of tracker (names in quota/client.ts): a provider's own, a
// quota group's (shared by its member providers, which keep their own day counts and circuits
// in it, passed as `member`), and a client's (its own limits, no circuit in use).
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import {
  circuitFailure,
  circuitReport,
  circuitSuccess,
  closedCircuit,
  type BreakerSettings,
  type CircuitReport,
  type CircuitState,
  type FailureKind,
} from "./circuit.ts";
import {
  admit,
  coolDown,
  emptyState,
  memberState,
  recordTokens,
  release,
  roll,
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

/** A group member's share of a snapshot: its own counts and circuit; the limits and cool-down are the group's. */
type MemberSnapshot = Pick<QuotaSnapshot, "requests_today" | "requests_last_minute" | "tokens_today" | "tokens_last_minute" | "circuit">;

export class QuotaTracker extends DurableObject<Env> {
  private readonly state: QuotaState;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS admissions (at INTEGER NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS token_records (at INTEGER NOT NULL, tokens INTEGER NOT NULL)");
    // A group member's share of the last minute (admissions and tokens), read only by snapshot().
    sql.exec("CREATE TABLE IF NOT EXISTS member_events (at INTEGER NOT NULL, member TEXT NOT NULL, requests INTEGER NOT NULL, tokens INTEGER NOT NULL)");
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
    const admissionsLeft = oldest !== undefined && this.state.window[0] !== oldest;
    const tokensLeft = oldestTokens !== undefined && this.state.windowTokens[0] !== oldestTokens;
    if (admissionsLeft) this.sql.exec("DELETE FROM admissions WHERE at <= ?", cutoff);
    if (tokensLeft) this.sql.exec("DELETE FROM token_records WHERE at <= ?", cutoff);
    if ((admissionsLeft || tokensLeft) && Object.keys(this.state.members).length) this.sql.exec("DELETE FROM member_events WHERE at <= ?", cutoff);
    this.saveCounters();
    return result;
  }

  private get sql() {
    return this.ctx.storage.sql;
  }

  /** `member`: the provider id, when this is a quota group's tracker. */
  admit(limits: QuotaLimits, trialLeaseMs?: number, member?: string): Admission {
    return this.change((state, now) => {
      const result = admit(state, limits, now, trialLeaseMs, member);
      if (result.admitted) {
        this.sql.exec("INSERT INTO admissions (at) VALUES (?)", now);
        if (member !== undefined) this.sql.exec("INSERT INTO member_events (at, member, requests, tokens) VALUES (?, ?, 1, 0)", now, member);
      }
      return result;
    });
  }

  recordTokens(tokens: number, limits: QuotaLimits, member?: string): void {
    this.change((state, now) => {
      const before = state.windowTokens.length;
      recordTokens(state, tokens, limits, now, member);
      if (state.windowTokens.length > before) {
        this.sql.exec("INSERT INTO token_records (at, tokens) VALUES (?, ?)", now, tokens);
        if (member !== undefined) this.sql.exec("INSERT INTO member_events (at, member, requests, tokens) VALUES (?, ?, 0, ?)", now, member, tokens);
      }
    });
  }

  /** Takes back the newest admission (client trackers: the request called no provider after all). */
  release(): void {
    this.change((state) => {
      const newest = state.window.at(-1);
      release(state);
      if (newest !== undefined) this.sql.exec("DELETE FROM admissions WHERE rowid IN (SELECT rowid FROM admissions WHERE at = ? LIMIT 1)", newest);
    });
  }

  coolDown(until: number, reason: string): void {
    this.change((state) => coolDown(state, until, reason));
  }

  /** An outage failure (Timeout, NetworkError, ServerError): returns the circuit as it now stands. */
  circuitFailure(kind: FailureKind, settings: BreakerSettings, member?: string): CircuitReport {
    return this.change((_state, now) => {
      const circuit = this.circuitOf(member);
      circuitFailure(circuit, kind, now, settings);
      return circuitReport(circuit, now);
    });
  }

  /** The circuit as an isolate holds it, for a provider without limits (whose circuit no tracker decides): shown in /v1/quota. */
  showCircuit(circuit: CircuitState): void {
    this.change((state) => {
      state.circuit = { ...circuit };
    });
  }

  circuitSuccess(member?: string): void {
    this.change(() => circuitSuccess(this.circuitOf(member)));
  }

  private circuitOf(member: string | undefined) {
    return member === undefined ? this.state.circuit : memberState(this.state, member).circuit;
  }

  snapshot(limits: QuotaLimits): QuotaSnapshot {
    return snapshot(this.state, limits, Date.now());
  }

  /** One member's own counts in a group's tracker (GET /v1/quota). */
  memberSnapshot(limits: QuotaLimits, member: string): MemberSnapshot {
    const now = Date.now();
    roll(this.state, now, limits.daily_reset_tz);
    const own = this.state.members[member];
    const minute = this.sql
      .exec<{ requests: number; tokens: number }>(
        "SELECT COALESCE(SUM(requests), 0) AS requests, COALESCE(SUM(tokens), 0) AS tokens FROM member_events WHERE member = ? AND at > ?",
        member,
        now - WINDOW_MS,
      )
      .one();
    return {
      requests_today: own?.requests ?? 0,
      requests_last_minute: minute.requests,
      tokens_today: own?.tokens ?? 0,
      tokens_last_minute: minute.tokens,
      circuit: circuitReport(own?.circuit ?? closedCircuit(), now),
    };
  }
}
