/**
 * Public types of fault injection: what a fault does and the rules that choose requests.
 *
 * @module
 */

import type { RequestKind } from "./types.ts";

/** What a fault rule does to a matching request. */
export type Fault =
  | {
    kind: "status";
    status: number;
    retryAfter?: string;
    /** "transient" => OperationOutcome with code transient; "text" => text/plain; else JSON. */
    body?: "transient" | "text" | unknown;
    /** The Content-Type of a JSON body (a server that mislabels it). @default FHIR JSON */
    contentType?: string;
  }
  /**
   * Start the normal body (chunked) and drop the connection after this many bytes. On a reply
   * without a body (a 202 poll), the head is cut after this many bytes and garbled, so fetch()
   * itself rejects (a head that merely stops would be retried silently by Deno's fetch).
   */
  | { kind: "reset"; afterBytes: number }
  /** Declare the full Content-Length, send this many bytes, then close (body-less: as reset). */
  | { kind: "truncate"; afterBytes: number }
  /** Delay the otherwise normal answer. */
  | { kind: "latency"; ms: number }
  /**
   * File downloads only (a proxy that stops early without an error): serve just the first
   * `afterBytes` bytes of the file's NDJSON (with `atLineEnd`, cut back to just after the last
   * newline within them; the whole file when it is shorter), as a complete, valid 200 reply:
   * Content-Length of the short body (or chunked and properly terminated), gzip as usual. With
   * `filesAsBinary` the Binary holds the shortened content. A matching request that gets no
   * file content (another kind, a 401/404/410, a 307 to the second origin) uses the fault up but
   * is answered normally.
   * @default atLineEnd false
   */
  | { kind: "shorten"; afterBytes: number; atLineEnd?: boolean };

/** The `shorten` fault. */
export type ShortenFault = Extract<Fault, { kind: "shorten" }>;

/** A fault injection rule for {@linkcode FakeFhirServer.addFault}. */
export interface FaultRule {
  /** Which kind of request it applies to. */
  target: RequestKind | "any";
  /** Only requests whose path + "?" + query contains this. */
  pathIncludes?: string;
  /** Let the first N matching requests through. @default 0 */
  skip?: number;
  /** How many requests get the fault after that (Infinity allowed). @default 1 */
  times?: number;
  /** The fault. */
  fault: Fault;
}
