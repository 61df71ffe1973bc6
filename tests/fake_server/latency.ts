/**
 * Simulated server time of FHIR REST requests: constant, or a long-tailed distribution picked
 * per URL (not per arrival), so a benchmark sees the same waits at any concurrency and can
 * recompute them.
 *
 * @module
 */

import { mixSeed } from "./prng.ts";
import type { LatencyOption, RequestKind } from "./types.ts";

/** The long-tail distribution: the share of requests that waits each many milliseconds. */
export const LONG_TAIL: readonly { readonly share: number; readonly ms: number }[] = [
  { share: 0.85, ms: 10 },
  { share: 0.145, ms: 60 },
  { share: 0.005, ms: 4000 },
];

/** The request kinds the `latency` option delays: searches, reads and Binary reads. */
export const DELAYED_KINDS: ReadonlySet<RequestKind> = new Set(["search", "read", "binary"]);

/** FNV-1a over the UTF-16 code units, finished with the seed mix: a uniform number in [0, 1). */
function unitHash(seed: number, text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return mixSeed(seed, h >>> 0) / 4294967296;
}

/**
 * The milliseconds the `latency` option adds to a search, read or Binary request, given the
 * request's path and raw query as sent: `"/fhir/Observation?patient=pat-0001"`, or the path
 * alone without a query. For a URL the client fetched that is `url.pathname + url.search` of
 * `new URL(url)` (fetch sends the URL as the URL parser normalizes it). Pure: a benchmark
 * recomputes with it what the server waited.
 */
export function latencyFor(latency: LatencyOption | undefined, pathAndQuery: string): number {
  if (latency === undefined) return 0;
  if (latency.kind === "constant") return latency.ms;
  const u = unitHash(latency.seed ?? 1, pathAndQuery);
  let upTo = 0;
  for (const bucket of LONG_TAIL) {
    upTo += bucket.share;
    if (u < upTo) return bucket.ms;
  }
  return LONG_TAIL[LONG_TAIL.length - 1]!.ms;
}
