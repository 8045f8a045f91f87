// QuotaTracker: one SQLite-backed Durable Object per provider (see quota/client.ts for its name).
// A Durable Object handles one event at a time, so admit() is exact: N concurrent requests against
// a limit of L admit at most min(N, L) (leases can only deny early). Limits come with every call, so a config change needs no
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
  coolDown,
  emptyState,
  giveBack,
  grant,
  memberState,
  roll,
  settle,
  snapshot,
  WINDOW_MS,
  windowStamp,
  type Admission,
  type LeaseAsk,
  type LeaseRecord,
  type QuotaLimits,
  type QuotaSnapshot,
  type QuotaState,
  type Settlement,
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

  /**
   * Admits one request and leases more to its isolate (window.ts grant), after taking back the
   * unused parts of leases that isolate is done with: one call does both. `member`: the provider
   * id, when this is a quota group's tracker. Without `ask`, one request and no lease.
   */
  admit(limits: QuotaLimits, trialLeaseMs?: number, member?: string, ask?: LeaseAsk, returns: LeaseRecord[] = []): Admission {
    if (returns.length) this.giveBack(limits, returns, member);
    return this.change((state, now) => {
      const result = grant(state, limits, now, ask ?? { requests: 1, tokens: 0, usd: 0 }, trialLeaseMs, member);
      if (result.admitted) {
        if (!ask?.renewal) this.addRows(windowStamp(now), 1, ask?.tokens ?? 0, member);
        if (result.lease.requests > 0) this.addRows(windowStamp(result.lease.until), result.lease.requests, result.lease.tokens, member);
      }
      return result;
    });
  }

  /** Takes back the unused parts of leases (and a client's admission that called no provider). */
  giveBack(limits: QuotaLimits, returns: LeaseRecord[], member?: string): void {
    this.change((state, now) => {
      for (const part of returns) {
        if (!giveBack(state, limits, part, now, member)) continue; // another day's lease
        const stamp = windowStamp(part.until);
        for (let i = 0; i < part.requests; i++) this.sql.exec("DELETE FROM admissions WHERE rowid IN (SELECT rowid FROM admissions WHERE at = ? LIMIT 1)", stamp);
        if (part.tokens > 0) this.takeTokenRows(stamp, part.tokens);
        if (member !== undefined) this.sql.exec("INSERT INTO member_events (at, member, requests, tokens) VALUES (?, ?, ?, ?)", stamp, member, -part.requests, -part.tokens);
      }
    });
  }

  /** Settles answers' real tokens and cost against what their admissions reserved. */
  settle(limits: QuotaLimits, settlements: Settlement[], member?: string): void {
    this.change((state, now) => {
      for (const settlement of settlements) {
        const records = state.windowTokens.length;
        settle(state, limits, settlement, now, member);
        if (settlement.tokens > 0 && state.windowTokens.length > records) this.addRows(now, 0, settlement.tokens, member);
        if (settlement.tokens < 0) {
          const stamp = windowStamp(settlement.until);
          this.takeTokenRows(stamp, -settlement.tokens);
          if (member !== undefined) this.sql.exec("INSERT INTO member_events (at, member, requests, tokens) VALUES (?, ?, 0, ?)", stamp, member, settlement.tokens);
        }
      }
    });
  }

  /** Counts an answer's tokens (no reservation before it). */
  recordTokens(tokens: number, limits: QuotaLimits, member?: string): void {
    this.settle(limits, [{ until: Date.now(), tokens, usd: 0 }], member);
  }

  /** The rows of `requests` admissions and `tokens` tokens stamped `at`. */
  private addRows(at: number, requests: number, tokens: number, member: string | undefined): void {
    for (let i = 0; i < requests; i++) this.sql.exec("INSERT INTO admissions (at) VALUES (?)", at);
    if (tokens > 0) this.sql.exec("INSERT INTO token_records (at, tokens) VALUES (?, ?)", at, tokens);
    if (member !== undefined) this.sql.exec("INSERT INTO member_events (at, member, requests, tokens) VALUES (?, ?, ?, ?)", at, member, requests, tokens);
  }

  private takeTokenRows(at: number, tokens: number): void {
    this.sql.exec("UPDATE token_records SET tokens = MAX(0, tokens - ?) WHERE rowid = (SELECT rowid FROM token_records WHERE at = ? AND tokens > 0 LIMIT 1)", tokens, at);
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
