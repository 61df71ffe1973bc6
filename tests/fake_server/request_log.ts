/**
 * The request log: every request's entry (unless logging is off) and per-kind counts and
 * latency totals that are kept either way, so a benchmark making hundreds of thousands of
 * requests can count them without the log growing.
 *
 * @module
 */

import type { LoggedRequest, RequestKind } from "./types.ts";

/** Entries and counters of one server's requests. */
export class RequestLog {
  /** The entries, in arrival order (empty when not keeping them). */
  readonly entries: LoggedRequest[] = [];
  readonly #keep: boolean;
  #seq = 0;
  readonly #counts = new Map<RequestKind, number>();
  readonly #latency = new Map<RequestKind, number>();

  /** `keep`: whether entries are stored (counts always are). */
  constructor(keep: boolean) {
    this.#keep = keep;
  }

  /** Numbers a new request (1-based, in arrival order) and stores its entry when keeping them. */
  add(entry: Omit<LoggedRequest, "seq">): LoggedRequest {
    const logged: LoggedRequest = { seq: ++this.#seq, ...entry };
    if (this.#keep) this.entries.push(logged);
    return logged;
  }

  /** Counts a request once it is routed; `latencyMs` is what the server waits before answering. */
  count(kind: RequestKind, latencyMs: number): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
    if (latencyMs > 0) this.#latency.set(kind, (this.#latency.get(kind) ?? 0) + latencyMs);
  }

  /** Requests received so far: all of them, or those of one kind. */
  requestCount(kind?: RequestKind): number {
    return kind === undefined ? this.#seq : this.#counts.get(kind) ?? 0;
  }

  /** Sum of the waits so far (a request still waiting counts): of all requests, or one kind. */
  totalLatencyMs(kind?: RequestKind): number {
    if (kind !== undefined) return this.#latency.get(kind) ?? 0;
    let sum = 0;
    for (const ms of this.#latency.values()) sum += ms;
    return sum;
  }
}
