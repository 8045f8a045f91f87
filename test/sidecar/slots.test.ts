// The slot pool in front of the context sequences: FIFO hand-over, bounded queue, abort while queued.
import { describe, expect, it } from "vitest";
import { QueueFullError, SlotPool } from "../../sidecar/slots.ts";

describe("SlotPool", () => {
  it("hands slots out, queues in order, and refuses beyond the queue bound", async () => {
    const pool = new SlotPool(["a", "b"], 2);
    const first = await pool.acquire();
    const second = await pool.acquire();
    expect([first.slot, second.slot].sort()).toEqual(["a", "b"]);
    const order: string[] = [];
    const third = pool.acquire().then((lease) => (order.push("third"), lease));
    const fourth = pool.acquire().then((lease) => (order.push("fourth"), lease));
    expect(pool.queued).toBe(2);
    await expect(pool.acquire()).rejects.toBeInstanceOf(QueueFullError);

    first.release();
    first.release(); // a second release is a no-op
    const thirdLease = await third;
    expect(thirdLease.slot).toBe(first.slot);
    second.release();
    await fourth;
    expect(order).toEqual(["third", "fourth"]);
    expect(pool.busy).toBe(2);
    expect(pool.queued).toBe(0);
  });

  it("drops a queued waiter whose signal aborts, and reports idle", async () => {
    const pool = new SlotPool(["only"], 1);
    const lease = await pool.acquire();
    const controller = new AbortController();
    const waiting = pool.acquire(controller.signal);
    controller.abort(new Error("client gone"));
    await expect(waiting).rejects.toThrow("client gone");
    expect(pool.queued).toBe(0);
    const idle = pool.whenIdle();
    lease.release();
    await idle;
    expect(pool.busy).toBe(0);
  });
});
