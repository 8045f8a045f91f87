// Leases, reservations and budgets in the tracker's pure logic (window.ts), with time passed in:
// the bounds docs/quotas-at-scale.md states, checked where they are decided.
import { describe, expect, it } from "vitest";
import { circuitFailure } from "../../edge/quota/circuit.ts";
import {
  coolDown,
  emptyState,
  giveBack,
  grant,
  LEASE_MS,
  LEASE_SHARE,
  nextMonthReset,
  settle,
  snapshot,
  WINDOW_MS,
  CALL_MARGIN_MS,
  type LeaseRecord,
  type QuotaLimits,
} from "../../edge/quota/window.ts";

const at = (iso: string) => Date.parse(iso);
const T = at("2026-05-01T10:00:00Z");
const ask = (requests: number, tokens = 0, usd = 0) => ({ requests, tokens, usd });

/** A simulated isolate: draws from its leases, asks the tracker when it has none left, and gives back what ended unused. */
class Isolate {
  leases: LeaseRecord[] = [];
  /** When each request it admitted called the provider. */
  calls: number[] = [];
  private readonly state: ReturnType<typeof emptyState>;
  private readonly limits: QuotaLimits;
  constructor(state: ReturnType<typeof emptyState>, limits: QuotaLimits) {
    this.state = state;
    this.limits = limits;
  }

  request(now: number): boolean {
    for (const ended of this.leases.filter((l) => l.until - 100 <= now)) giveBack(this.state, this.limits, ended, now);
    this.leases = this.leases.filter((l) => l.until - 100 > now);
    const lease = this.leases.find((l) => l.requests > 0);
    if (lease) {
      lease.requests--;
      this.calls.push(now);
      return true;
    }
    const result = grant(this.state, this.limits, now, ask(8));
    if (!result.admitted) return false;
    if (result.lease.requests > 0) this.leases.push({ ...result.lease });
    this.calls.push(now);
    return true;
  }
}

describe("leases", () => {
  it("grant the asking request plus spares counted at once, at most LEASE_SHARE of a limit in force", () => {
    const state = emptyState();
    const limits = { requests_per_minute: 100 };
    const first = grant(state, limits, T, ask(32));
    expect(first).toMatchObject({ admitted: true, lease: { requests: 100 * LEASE_SHARE, until: T + LEASE_MS } });
    expect(state.window).toHaveLength(1 + 10); // every leased admission is counted when granted
    // Another isolate asks while that lease is in force: it gets its own admission, no spares.
    const second = grant(state, limits, T + 10, ask(32));
    expect(second).toMatchObject({ admitted: true, lease: { requests: 0 } });
    expect(snapshot(state, limits, T + 10).requests_leased).toBe(10);
    // Once the lease ended, a new one may be granted.
    expect(grant(state, limits, T + LEASE_MS + 1, ask(32))).toMatchObject({ lease: { requests: 10 } });
  });

  it("lease nothing in the day's last LEASE_MS: a spare used after the reset would count in the day before", () => {
    const limits = { requests_per_day: 1000 };
    const midnight = at("2026-05-02T00:00:00Z");
    expect(grant(emptyState(), limits, midnight - LEASE_MS, ask(32))).toMatchObject({ admitted: true, lease: { requests: 0 } });
    expect(grant(emptyState(), limits, midnight - LEASE_MS - 1, ask(32))).toMatchObject({ admitted: true, lease: { requests: 31 } });
  });

  it("never lease past the headroom: near the limit each request asks its tracker", () => {
    const state = emptyState();
    const limits = { requests_per_day: 1000 };
    state.day = "2026-05-01";
    state.dayRequests = 998;
    const result = grant(state, limits, T, ask(32));
    expect(result).toMatchObject({ admitted: true, lease: { requests: 1 } });
    expect(grant(state, limits, T + 1, ask(32))).toMatchObject({ admitted: false, reason: "daily" });
  });

  it("give back the unused part: the counts are what was used", () => {
    const state = emptyState();
    const limits = { requests_per_minute: 100, requests_per_day: 1000 };
    const result = grant(state, limits, T, ask(32));
    if (!result.admitted) throw new Error("not admitted");
    expect(state.dayRequests).toBe(11);
    // Three of the ten spares were used; seven go back when the lease ends.
    expect(giveBack(state, limits, { ...result.lease, requests: 7 }, T + LEASE_MS)).toBe(true);
    expect(snapshot(state, limits, T + LEASE_MS)).toMatchObject({ requests_today: 4, requests_last_minute: 4, requests_leased: 0 });
  });

  it("name the admissions of leases no isolate gave back: an isolate that stopped leaves its spares counted", () => {
    const state = emptyState();
    const limits = { requests_per_minute: 100, requests_per_day: 1000 };
    const returned = grant(state, limits, T, ask(32));
    const stranded = grant(state, limits, T + LEASE_MS + 1, ask(32));
    if (!returned.admitted || !stranded.admitted) throw new Error("not admitted");
    expect(snapshot(state, limits, T + LEASE_MS + 1).requests_not_given_back).toBe(20);
    // The first isolate gives its lease back (4 of 10 unused); the second never does (it was killed).
    giveBack(state, limits, { ...returned.lease, requests: 4, granted: returned.lease.requests }, T + LEASE_MS + 2);
    const later = snapshot(state, limits, T + 3 * LEASE_MS);
    expect(later).toMatchObject({ requests_today: 2 + 6 + 10, requests_leased: 0, requests_not_given_back: 10 });
    // A put-back of one admission (no granted) returns no lease.
    giveBack(state, limits, { id: 0, until: T, requests: 1, tokens: 0, usd: 0 }, T + 3 * LEASE_MS);
    expect(snapshot(state, limits, T + 3 * LEASE_MS).requests_not_given_back).toBe(10);
    // A new day starts at 0.
    expect(snapshot(state, limits, at("2026-05-02T00:00:01Z")).requests_not_given_back).toBe(0);
  });

  it("keep any 60 s exact across isolates: a leased admission counts from its grant to 60 s after its lease ends", () => {
    const limits = { requests_per_minute: 50 };
    const state = emptyState();
    const isolates = Array.from({ length: 6 }, () => new Isolate(state, limits));
    // Three minutes of a request every 150 ms (three times the limit), spread over the isolates at random:
    // each isolate uses its spares late in their lease, where a stamp at the grant would undercount.
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let now = T; now < T + 3 * WINDOW_MS; now += 150) isolates[Math.floor(random() * isolates.length)]!.request(now);
    const calls = isolates.flatMap((isolate) => isolate.calls).sort((a, b) => a - b);
    expect(calls.length).toBeGreaterThan(100);
    // In any 60 s (a window starting at each call), at most requests_per_minute calls.
    for (const [index, start] of calls.entries()) {
      const inWindow = calls.slice(index).filter((call) => call < start + WINDOW_MS).length;
      expect(inWindow).toBeLessThanOrEqual(50);
    }
  });

  it("count a spare used late in its lease for the 60 s after that use", () => {
    const limits = { requests_per_minute: 50 };
    const state = emptyState();
    const a = new Isolate(state, limits);
    const others = new Isolate(state, limits);
    expect(a.request(T)).toBe(true); // its own call, and a lease of spares
    expect(a.leases[0]!.requests).toBe(5);
    for (let i = 0; i < 5; i++) expect(a.request(T + 1_850)).toBe(true); // the spares, late in the lease
    let filled = 0;
    while (others.request(T + 1_950 + filled)) filled++;
    // At T + 60 s only A's own first call has left the window: one more call, not six.
    let later = 0;
    for (let now = T + WINDOW_MS + 1; now < T + WINDOW_MS + 1_500; now += 10) if (others.request(now)) later++;
    const calls = [...a.calls, ...others.calls].filter((call) => call >= T + 1_850 && call < T + 1_850 + WINDOW_MS);
    expect(later).toBe(1);
    expect(calls.length).toBeLessThanOrEqual(50);
  });

  it("are never granted by a renewal while a circuit is open or half-open, nor during a cool-down", () => {
    const state = emptyState();
    const limits = { requests_per_minute: 100 };
    circuitFailure(state.circuit, "fast", T, { failures: 1, cooldownMs: 1_000, maxCooldownMs: 10_000 });
    expect(grant(state, limits, T + 1_500, { ...ask(8), renewal: true })).toMatchObject({ admitted: false, reason: "circuit_open" });
    // The renewal took no trial: the next request is the trial, alone.
    expect(grant(state, limits, T + 1_600, ask(8))).toMatchObject({ admitted: true, trial: true, lease: { requests: 0 } });
    const cooling = emptyState();
    coolDown(cooling, T + 30_000, "rate_limit");
    expect(grant(cooling, limits, T, { ...ask(8), renewal: true })).toMatchObject({ admitted: false, reason: "cooldown" });
  });
});

describe("token reservations", () => {
  it("skip a request that does not fit what is left, before the call", () => {
    const state = emptyState();
    const limits = { tokens_per_minute: 100 };
    expect(grant(state, limits, T, ask(1, 60)).admitted).toBe(true);
    expect(grant(state, limits, T + 1, ask(1, 60))).toMatchObject({ admitted: false, reason: "tokens" });
    // A smaller one still fits.
    expect(grant(state, limits, T + 2, ask(1, 40)).admitted).toBe(true);
  });

  it("run a reservation larger than the whole limit alone: admitted on an empty window, else denied until the window empties", () => {
    const state = emptyState();
    const limits = { tokens_per_minute: 100 };
    expect(grant(state, limits, T, ask(1, 500)).admitted).toBe(true);
    expect(grant(state, limits, T + 1, ask(1, 500))).toMatchObject({ admitted: false, reason: "tokens", retryAt: T + WINDOW_MS + CALL_MARGIN_MS });
    const small = emptyState();
    expect(grant(small, limits, T, ask(1, 30)).admitted).toBe(true);
    expect(grant(small, limits, T + 1, ask(1, 500))).toMatchObject({ admitted: false, reason: "tokens", unfit: true, retryAt: T + WINDOW_MS + CALL_MARGIN_MS });
  });

  it("settle to the real usage: less gives back, more counts", () => {
    const state = emptyState();
    const limits = { tokens_per_minute: 100, tokens_per_day: 1000 };
    const first = grant(state, limits, T, ask(1, 60));
    if (!first.admitted) throw new Error("not admitted");
    settle(state, limits, { until: first.at, tokens: 10 - 60, usd: 0 }, T + 500);
    expect(snapshot(state, limits, T + 500)).toMatchObject({ tokens_today: 10, tokens_last_minute: 10 });
    settle(state, limits, { until: first.at, tokens: 25, usd: 0 }, T + 600);
    expect(snapshot(state, limits, T + 600)).toMatchObject({ tokens_today: 35, tokens_last_minute: 35 });
  });
});

describe("USD budgets", () => {
  it("lease nothing under a USD budget: each request asks its tracker, so settled costs are seen before the next admission", () => {
    const state = emptyState();
    const limits = { budget_usd_per_day: 1, requests_per_minute: 1000 };
    expect(grant(state, limits, T, ask(32, 0, 0.01))).toMatchObject({ admitted: true, lease: { requests: 0 } });
    expect(grant(emptyState(), { requests_per_minute: 1000 }, T, ask(32, 0, 0.01))).toMatchObject({ admitted: true, lease: { requests: 31 } });
  });

  it("skip as budget once a day's budget would be passed, and reopen at the zone's midnight", () => {
    const state = emptyState();
    const limits = { budget_usd_per_day: 1, daily_reset_tz: "America/New_York" };
    const now = at("2026-05-01T12:00:00Z");
    expect(grant(state, limits, now, ask(1, 0, 0.6)).admitted).toBe(true);
    // 0.6 spent of 1: not spent, but this one does not fit (unfit: not cached, a smaller one may).
    expect(grant(state, limits, now + 1, ask(1, 0, 0.6))).toEqual({ admitted: false, reason: "budget", retryAt: at("2026-05-02T04:00:00Z"), unfit: true });
    expect(grant(state, limits, now + 2, ask(1, 0, 0.4)).admitted).toBe(true);
    expect(grant(state, limits, now + 3, ask(1, 0, 0.01))).toEqual({ admitted: false, reason: "budget", retryAt: at("2026-05-02T04:00:00Z") });
    expect(grant(state, limits, at("2026-05-02T04:00:01Z"), ask(1, 0, 0.6)).admitted).toBe(true);
  });

  it("skip as budget once a month's budget is spent, until the 1st", () => {
    const state = emptyState();
    const limits = { budget_usd_per_month: 2 };
    const now = at("2026-05-20T12:00:00Z");
    const first = grant(state, limits, now, ask(1, 0, 1.5));
    if (!first.admitted) throw new Error("not admitted");
    settle(state, limits, { until: first.at, tokens: 0, usd: 0.6 }, now + 1); // it cost more than estimated: 2.1
    expect(grant(state, limits, at("2026-05-28T00:00:00Z"), ask(1, 0, 0.01))).toEqual({ admitted: false, reason: "budget", retryAt: at("2026-06-01T00:00:00Z") });
    expect(grant(state, limits, at("2026-06-01T00:00:01Z"), ask(1, 0, 0.01)).admitted).toBe(true);
    expect(nextMonthReset(at("2026-12-31T23:00:00Z"))).toBe(at("2027-01-01T00:00:00Z"));
  });
});
