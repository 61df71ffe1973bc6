/**
 * Time as a dependency: everything that waits or reads the time takes a Clock, so tests can run
 * multi-hour back-offs instantly (STYLE habit 10).
 */

/** A source of time and of waiting. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/**
 * A clock for tests: `sleep` returns at once and moves time forward, and every wait is recorded.
 */
export class FakeClock implements Clock {
  /** Every sleep requested, in milliseconds, in order. */
  readonly sleeps: number[] = [];
  #offset = 0;
  constructor(private readonly base: () => number = Date.now) {}
  now(): number {
    return this.base() + this.#offset;
  }
  /** Moves time forward without sleeping. */
  advance(ms: number): void {
    this.#offset += ms;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.sleeps.push(ms);
    this.#offset += Math.max(0, ms);
    // Yield to the event loop so concurrent tasks interleave as they would for real.
    return new Promise((resolve) => setTimeout(resolve, 0));
  }
}
