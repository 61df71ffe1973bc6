/** The shared connection cap, the per-process request rate cap, and the slow-down after a 429. */

import type { Clock } from "../clock.ts";

/** A FIFO counting semaphore: at most `limit` holders at once. */
export class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(readonly limit: number) {
    this.#free = limit;
  }

  /** Waits for a slot; resolves to the function that gives it back. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((resolve, reject) => {
        const grant = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = this.#waiting.indexOf(grant);
          if (i >= 0) this.#waiting.splice(i, 1);
          reject(signal?.reason);
        };
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#waiting.push(grant);
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }

  /** Slots in use right now. */
  get inUse(): number {
    return this.limit - this.#free;
  }
}

/**
 * Remembers, per origin, until when the server asked us to hold off. When one request gets a 429,
 * every request to that server waits, not only the one that got it.
 */
export class OriginThrottle {
  readonly #until = new Map<string, number>();
  constructor(private readonly clock: Clock) {}

  /** Holds off requests to `origin` until `untilMs` (never shortens an existing pause). */
  pause(origin: string, untilMs: number): void {
    if ((this.#until.get(origin) ?? 0) < untilMs) this.#until.set(origin, untilMs);
  }

  /** True when requests to `origin` must hold off right now. */
  paused(origin: string): boolean {
    return (this.#until.get(origin) ?? 0) > this.clock.now();
  }

  /** Waits until `origin` may be contacted. Returns the time waited in ms. */
  async wait(origin: string, signal?: AbortSignal): Promise<number> {
    let waited = 0;
    for (;;) {
      const until = this.#until.get(origin) ?? 0;
      const left = until - this.clock.now();
      if (left <= 0) return waited;
      await this.clock.sleep(left, signal);
      waited += left;
    }
  }
}

/**
 * Spaces request starts evenly, so that at most `perSecond` start in any second: a ceiling IT can
 * set per job (40 jobs at 5 per second never send more than 200 per second in all).
 */
export class RateLimiter {
  readonly #intervalMs: number;
  #next = -Infinity;
  constructor(readonly perSecond: number, private readonly clock: Clock) {
    this.#intervalMs = 1000 / perSecond;
  }

  /** Waits for this request's turn. */
  async take(signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    const at = Math.max(now, this.#next);
    this.#next = at + this.#intervalMs;
    if (at > now) await this.clock.sleep(at - now, signal);
  }
}
