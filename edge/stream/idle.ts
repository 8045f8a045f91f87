// A stream's idle timeout with one timer instead of one per read: each read marks the clock, and
// the timer, when it fires, re-arms itself for what is left unless the silence really lasted.
// Only time spent waiting on upstream counts: while the client is not asking for more (back
// pressure), nothing is being read and the watch waits.

export class IdleWatch {
  private readonly ms: number;
  private readonly onIdle: () => void;
  private last = 0;
  private reading = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number, onIdle: () => void) {
    this.ms = ms;
    this.onIdle = onIdle;
  }

  /** A read from upstream begins. */
  readStarted(): void {
    this.last = Date.now();
    this.reading = true;
    if (this.timer === undefined) this.arm(this.ms);
  }

  /** A read from upstream ended (with data or not). */
  readEnded(): void {
    this.last = Date.now();
    this.reading = false;
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => {
      const silent = Date.now() - this.last;
      if (this.reading && silent >= this.ms) {
        this.timer = undefined;
        this.onIdle();
      } else {
        this.arm(this.reading ? this.ms - silent : this.ms);
      }
    }, delay);
  }
}
