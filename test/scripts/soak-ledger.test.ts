// bench:soak's books (bench/soak/ledger.ts): a lost, doubled or orphaned terminal line, and a
// tracker count off by a request, are caught; the honest differences (a logged fail-open, a
// request a kill cut between its admission and its call) are not counted against the trackers.
import { describe, expect, it } from "vitest";
import { checkLog, reconcile } from "../../bench/soak/ledger.ts";

const line = (event: string, id: string, extra: Record<string, unknown> = {}) => JSON.stringify({ ts: "2026-12-07T06:00:00.000Z", event, request_id: id, route: "chat", ...extra });

describe("soak ledger: the log", () => {
  it("passes a log where every infer_started has exactly one terminal line", () => {
    const check = checkLog([line("infer_started", "a"), line("infer_skipped", "a"), line("infer_completed", "a"), line("infer_started", "b"), line("infer_failed", "b"), ""]);
    expect(check).toMatchObject({ started: 2, missing: [], duplicate: [], orphan: [], unreadable: 0, cutByKill: 0 });
    expect(check.terminal.get("b")?.event).toBe("infer_failed");
  });

  it("names a request without a terminal line, one with two, and a terminal line without a start", () => {
    const check = checkLog([
      line("infer_started", "lost"),
      line("infer_started", "twice"),
      line("infer_completed", "twice"),
      line("infer_cancelled", "twice", { reason: "workerd_exited" }),
      line("infer_failed", "orphan"),
      "not json",
    ]);
    expect(check).toMatchObject({ missing: ["lost"], duplicate: ["twice"], orphan: ["orphan"], unreadable: 1, cutByKill: 1 });
  });

  it("counts fail-open lines by provider, the client tracker's under an empty name", () => {
    const check = checkLog([line("quota_unavailable", "a", { provider: "r429" }), line("quota_unavailable", "b", { provider: "r429" }), line("quota_unavailable", "c")]);
    expect(check.trackerUnavailable).toEqual({ r429: 2, "": 1 });
  });
});

describe("soak ledger: a tracker's count against what its provider received", () => {
  it("balances when every admitted request reached the provider", () => {
    expect(reconcile("p", 120, 120, 0, 3, 0)).toMatchObject({ not_counted: 0, counted_twice_or_never_sent: 0 });
  });

  it("catches a request the provider received that the tracker did not count", () => {
    expect(reconcile("p", 119, 120, 0, 3, 0).not_counted).toBe(1);
  });

  it("explains a miss by a logged fail-open admission, and only that many", () => {
    expect(reconcile("p", 118, 120, 2, 0, 0).not_counted).toBe(0);
    expect(reconcile("p", 117, 120, 2, 0, 0).not_counted).toBe(1);
  });

  it("allows a count without a call for each request a kill cut, and catches one past that", () => {
    expect(reconcile("p", 122, 120, 0, 2, 0).counted_twice_or_never_sent).toBe(0);
    expect(reconcile("p", 123, 120, 0, 2, 0).counted_twice_or_never_sent).toBe(1);
    expect(reconcile("p", 121, 120, 0, 0, 0).counted_twice_or_never_sent).toBe(1);
  });

  it("allows the leased admissions no isolate gave back (a killed isolate's spares), and catches one past that", () => {
    expect(reconcile("p", 150, 120, 0, 0, 30)).toMatchObject({ counted_twice_or_never_sent: 0, not_given_back: 30 });
    expect(reconcile("p", 151, 120, 0, 0, 30).counted_twice_or_never_sent).toBe(1);
  });
});
