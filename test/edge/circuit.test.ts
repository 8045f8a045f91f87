// The circuit's state machine with time passed in (edge/quota/circuit.ts).
import { describe, expect, it } from "vitest";
import { circuitAdmit, circuitFailure, circuitName, circuitSuccess, closedCircuit } from "../../edge/quota/circuit.ts";

const settings = { failures: 2, cooldownMs: 10_000, maxCooldownMs: 300_000 };
const LEASE = 1_000;

/** Opens a circuit with two failures of `kind` at time 0. */
function opened(kind: "fast" | "slow") {
  const state = closedCircuit();
  circuitFailure(state, kind, 0, settings);
  expect(circuitName(state, 0)).toBe("closed");
  circuitFailure(state, kind, 0, settings);
  return state;
}

describe("circuit", () => {
  it("opens after breaker_failures consecutive failures; a success in between resets the count", () => {
    const state = closedCircuit();
    circuitFailure(state, "fast", 0, settings);
    circuitSuccess(state);
    circuitFailure(state, "fast", 0, settings);
    expect(circuitName(state, 0)).toBe("closed");
    circuitFailure(state, "fast", 0, settings);
    expect(circuitName(state, 1)).toBe("open");
    expect(circuitAdmit(state, 9_999, LEASE)).toEqual({ ok: false, retryAt: 10_000 });
  });

  it("lets exactly one trial through when the cool-down ends; the rest wait for its outcome", () => {
    const state = opened("fast");
    expect(circuitAdmit(state, 10_000, LEASE)).toEqual({ ok: true, trial: true });
    expect(circuitName(state, 10_000)).toBe("half_open");
    expect(circuitAdmit(state, 10_001, LEASE)).toEqual({ ok: false, retryAt: 11_000 });
    // With a long lease, a request that meets the trial is told to come back within a second.
    const long = opened("fast");
    circuitAdmit(long, 10_000, 30_000);
    expect(circuitAdmit(long, 10_500, 30_000)).toEqual({ ok: false, retryAt: 11_500 });
    // A trial that never reported (its isolate went away) frees the next one after its lease.
    expect(circuitAdmit(state, 11_000, LEASE)).toEqual({ ok: true, trial: true });
    circuitSuccess(state);
    expect(circuitAdmit(state, 11_001, LEASE)).toEqual({ ok: true, trial: false });
  });

  it("after answered errors reopens for breaker_cooldown_ms each time", () => {
    const state = opened("fast");
    let now = 10_000;
    for (let i = 0; i < 4; i++) {
      expect(circuitAdmit(state, now, LEASE)).toMatchObject({ ok: true, trial: true });
      circuitFailure(state, "fast", now, settings);
      expect(state.openUntil - now).toBe(10_000);
      now = state.openUntil;
    }
  });

  it("after timeouts doubles on each failed trial up to breaker_max_cooldown_ms", () => {
    const state = opened("slow");
    const cooldowns = [state.openUntil];
    let now = state.openUntil;
    for (let i = 0; i < 7; i++) {
      expect(circuitAdmit(state, now, LEASE)).toMatchObject({ ok: true, trial: true });
      circuitFailure(state, "slow", now, settings);
      cooldowns.push(state.openUntil - now);
      now = state.openUntil;
    }
    expect(cooldowns).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
    // A fast failure after slow ones drops back to the base cool-down.
    circuitAdmit(state, now, LEASE);
    circuitFailure(state, "fast", now, settings);
    expect(state.openUntil - now).toBe(10_000);
  });
});
