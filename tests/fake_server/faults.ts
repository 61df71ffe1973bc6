/**
 * Fault injection: rules matched against each request (by kind and path), with skip/times
 * counters, turned into error replies, delays or cut bodies.
 *
 * @module
 */

import type { Reply } from "./http1.ts";
import { json, operationOutcome, text } from "./reply.ts";
import type { Fault, FaultRule, RequestKind } from "./types.ts";

interface LiveRule {
  rule: FaultRule;
  /** Matching requests seen so far. */
  seen: number;
  /** Requests faulted so far. */
  fired: number;
}

/** The fault rules of one server. */
export class FaultTable {
  #rules: LiveRule[] = [];

  /** Adds a rule; rules are checked in the order they were added. */
  add(rule: FaultRule): void {
    const times = rule.times ?? 1;
    if (!(times >= 0) || !((rule.skip ?? 0) >= 0)) {
      throw new RangeError("skip and times must be zero or more");
    }
    this.#rules.push({ rule, seen: 0, fired: 0 });
  }

  /** Removes every rule. */
  clear(): void {
    this.#rules = [];
  }

  /**
   * The fault for a request, if a rule fires. Every matching rule counts the request; the first
   * one past its `skip` and within its `times` fires.
   */
  take(kind: RequestKind, pathAndQuery: string): Fault | undefined {
    let chosen: Fault | undefined;
    for (const live of this.#rules) {
      const { rule } = live;
      if (rule.target !== "any" && rule.target !== kind) continue;
      if (rule.pathIncludes !== undefined && !pathAndQuery.includes(rule.pathIncludes)) continue;
      live.seen++;
      if (chosen) continue;
      if (live.seen > (rule.skip ?? 0) && live.fired < (rule.times ?? 1)) {
        live.fired++;
        chosen = rule.fault;
      }
    }
    return chosen;
  }
}

/** The reply of a `status` fault. */
export function statusFaultReply(fault: Extract<Fault, { kind: "status" }>): Reply {
  const headers: Record<string, string> = {};
  if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
  const message = `Injected fault: HTTP ${fault.status}`;
  if (fault.body === "text") return text(fault.status, message, headers);
  if (fault.body === "transient") {
    return json(
      fault.status,
      operationOutcome("error", "transient", `${message} (transient, retry later)`),
      headers,
    );
  }
  if (fault.body === undefined) {
    return json(fault.status, operationOutcome("error", "exception", message), headers);
  }
  return json(fault.status, fault.body, headers, fault.contentType);
}
