// A fixed set of slots (context sequences) with a bounded FIFO queue in front of them.
// acquire() resolves with a free slot, waits in the queue, or fails at once when the queue is full.

export class QueueFullError extends Error {
  override readonly name = "QueueFullError";
}

interface Waiter<T> {
  resolve: (lease: Lease<T>) => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort: () => void;
}

export interface Lease<T> {
  slot: T;
  release: () => void;
}

export class SlotPool<T> {
  private readonly free: T[];
  private readonly waiters: Waiter<T>[] = [];
  private readonly idleListeners = new Set<() => void>();
  readonly size: number;
  readonly maxQueue: number;

  constructor(slots: readonly T[], maxQueue: number) {
    this.free = [...slots];
    this.size = slots.length;
    this.maxQueue = maxQueue;
  }

  get busy(): number {
    return this.size - this.free.length;
  }
  get queued(): number {
    return this.waiters.length;
  }

  acquire(signal?: AbortSignal): Promise<Lease<T>> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(this.lease(slot));
    if (this.waiters.length >= this.maxQueue) return Promise.reject(new QueueFullError("all slots are busy and the queue is full"));
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Resolves once no slot is busy and nobody waits. */
  whenIdle(): Promise<void> {
    if (this.busy === 0 && this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleListeners.add(resolve));
  }

  private lease(slot: T): Lease<T> {
    let released = false;
    return {
      slot,
      release: () => {
        if (released) return;
        released = true;
        const next = this.waiters.shift();
        if (next) {
          next.signal?.removeEventListener("abort", next.onAbort);
          next.resolve(this.lease(slot));
          return;
        }
        this.free.push(slot);
        if (this.busy === 0) {
          for (const listener of this.idleListeners) listener();
          this.idleListeners.clear();
        }
      },
    };
  }
}
