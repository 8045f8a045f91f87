// Every test file checks the log invariant after each test: each infer_started has exactly one
// terminal event with the same request_id, and no terminal event comes without a start.
import { afterEach, beforeEach, expect } from "vitest";
import { captureLogs, terminalCounts } from "./harness.ts";

export function checkLogInvariant(): { events: () => ReturnType<ReturnType<typeof captureLogs>["events"]> } {
  let logs: ReturnType<typeof captureLogs>;
  beforeEach(() => {
    logs = captureLogs();
  });
  afterEach(() => {
    for (const [requestId, counts] of terminalCounts(logs.events())) {
      expect(counts, `request ${requestId}`).toEqual({ started: 1, terminal: 1 });
    }
    logs.spy.mockRestore();
  });
  return { events: () => logs.events() };
}
