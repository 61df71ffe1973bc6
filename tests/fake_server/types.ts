/**
 * Public types of the fake FHIR server: its options, fault rules and request log entries.
 *
 * @module
 */

/** A FHIR resource as the fake server stores it: plain JSON with a type and an id. */
export interface Resource {
  /** The FHIR resource type, e.g. `Observation`. */
  resourceType: string;
  /** The logical id. */
  id: string;
  /** Metadata; every generated resource has `meta.lastUpdated`. */
  meta?: { lastUpdated?: string; [key: string]: unknown };
  /** Any other FHIR element. */
  [key: string]: unknown;
}

/** A registered SMART backend-services client: its id and public keys. */
export interface SmartClient {
  /** The `client_id` (JWT `iss` and `sub`). */
  clientId: string;
  /** The client's public keys; the JWT header `kid` must name one of them. */
  jwks: { keys: JsonWebKey[] };
}

/** How the server authenticates FHIR requests. */
export type AuthOptions =
  | { mode: "none" }
  | {
    mode: "smart";
    /** Registered clients. */
    clients: SmartClient[];
    /** Lifetime of issued access tokens. @default 300 */
    tokenLifetimeSeconds?: number;
  }
  | { mode: "basic"; user: string; password: string }
  | { mode: "bearer"; token: string };

/** Severity of an OperationOutcome issue. */
export type IssueSeverity = "fatal" | "error" | "warning" | "information";

/** Benchmark mode: every export serves big generated files instead of the data set. */
export interface SyntheticOptions {
  /** Resource type of every output file (the lines are Observation-shaped whatever it is). */
  type: string;
  /** Number of output files in the manifest. */
  files: number;
  /** Approximate size of each file in bytes (rounded up to whole lines). */
  bytesPerFile: number;
}

/**
 * Simulated server time of FHIR REST requests. "constant": every one waits `ms`. "longTail":
 * 85% wait 10 ms, 14.5% 60 ms and 0.5% 4000 ms, chosen from `seed` and the request's path and
 * query (not its arrival order), so one search always waits the same whatever the concurrency;
 * `latencyFor` in latency.ts recomputes it.
 */
export type LatencyOption =
  | {
    kind: "constant";
    /** Milliseconds every delayed request waits. */
    ms: number;
  }
  | {
    kind: "longTail";
    /** Seed of the per-URL choice (independent of the data `seed`). @default 1 */
    seed?: number;
  };

/** Options of {@linkcode FakeFhirServer.start}. Every option has a default. */
export interface FakeServerOptions {
  /** PRNG seed: the same seed gives byte-identical data. @default 1 */
  seed?: number;
  /** Number of generated patients. @default 20 */
  patients?: number;
  /** Maximum lines per export output file, so big types span several files. @default 25 */
  resourcesPerFile?: number;
  /** Path of the FHIR base on the main origin. @default "/fhir" */
  basePath?: string;
  /** Authentication of FHIR requests. @default {mode: "none"} */
  auth?: AuthOptions;
  /** Serve `.well-known/smart-configuration` under the base (false => 404). @default true */
  smartConfiguration?: boolean;
  /** Advertise the token URL in the CapabilityStatement oauth-uris extension. @default true */
  capabilityOauthUris?: boolean;
  /** SMART scope versions accepted and advertised (permission-v1 / permission-v2). @default ["v1","v2"] */
  scopeVersions?: ("v1" | "v2")[];
  /** CapabilityStatement software; name "Epic" emulates Epic's quirks. @default {name: "Fake FHIR", version: "1.0.0", releaseDate: "2026-01-01"} */
  software?: { name: string; version?: string; releaseDate?: string };
  /** CapabilityStatement publisher (e.g. "Oracle Health"). @default undefined (omitted) */
  publisher?: string;
  /** CapabilityStatement fhirVersion. @default "4.0.1" */
  fhirVersion?: string;
  /** Resource types the server supports and lists. @default every generated type */
  supportedTypes?: string[];
  /** Whether `_lastUpdated` is a supported search parameter. @default true (false for Epic) */
  lastUpdatedSearchParam?: boolean;
  /** Kick-off methods allowed; another method answers 405. @default ["GET", "POST"] */
  kickoffMethods?: ("GET" | "POST")[];
  /** Oracle/Cerner: a repeated `_type` or `_typeFilter` query parameter answers 400. @default false */
  rejectRepeatedParams?: boolean;
  /** Aidbox: a kick-off while this many exports are in progress answers 429. @default Infinity */
  maxConcurrentExports?: number;
  /** Number of 202 answers before the manifest. @default 2 */
  pollsUntilReady?: number;
  /** Retry-After on 202 polls; null sends none. @default "1" */
  progressRetryAfter?: string | null;
  /** Manifest `requiresAccessToken`. @default auth is not none and files are not on the second origin */
  requiresAccessToken?: boolean;
  /** Manifest file URLs point at the second origin (capability URLs, like S3). @default false */
  filesOnSecondOrigin?: boolean;
  /** File URLs point at the main origin, which answers 307 to the second origin. @default false */
  redirectFilesToSecondOrigin?: boolean;
  /** Split manifest output entries into pages of this many, linked by `link[relation=next]`. */
  manifestPageSize?: number;
  /** Gzip file downloads when Accept-Encoding allows it. @default true (false in synthetic mode) */
  gzipFiles?: boolean;
  /** OperationOutcome issues written to one error file listed in the manifest `error`. @default [] */
  manifestErrors?: { severity: IssueSeverity; code?: string; diagnostics: string }[];
  /** What expired status and file URLs answer. @default 404 for status URLs, 410 for files */
  expiredStatusCode?: 404 | 410;
  /** The server clock in milliseconds (token expiry, transactionTime, mutate). @default Date.now */
  now?: () => number;
  /** Benchmark mode: see {@linkcode SyntheticOptions}. */
  synthetic?: SyntheticOptions;
  /**
   * Largest HTTP chunk of every response body (files, search Bundles, metadata, errors, tokens)
   * on both listeners. When finite, every non-empty body is sent with chunked transfer encoding
   * in chunks of at most this many bytes, even when its length is known, and after gzip; Deno's
   * fetch yields at most one HTTP chunk per read, so the client's reads are that small (lines
   * span many reads). Replies without a body keep `content-length: 0`; a `truncate` fault keeps
   * its Content-Length framing; a `reset` fault sends whole chunks, then the size line of one
   * that never comes. `Infinity` sends bodies as they are (and overrides the environment).
   * @default the environment variable SMART_FETCH_FAKE_CHUNK_BYTES when set to a positive integer (another non-empty value throws), else Infinity; always Infinity in synthetic mode
   */
  chunkBytes?: number;
  /**
   * HAPI / Smile CDR: every manifest file URL (output, error, deleted) is
   * `[base]/Binary/<job id>-<file name without .ndjson>?gen=G` on the main origin, and the
   * download answers a Binary resource whose `data` is the base64 of the NDJSON, whatever the
   * Accept header says (`application/fhir+ndjson` is ignored, as old HAPI does: hapi-fhir issue
   * 4051). "json": always JSON, `application/fhir+json;charset=UTF-8`. "xml": FHIR XML,
   * `application/fhir+xml;charset=UTF-8`, unless Accept names `application/fhir+json` or
   * `application/json` (then the JSON Binary). Auth, expiry, gzip and faults work as for
   * `/files/` URLs; the request log says kind "file" with the job id. Not combinable with
   * `filesOnSecondOrigin` or `redirectFilesToSecondOrigin`.
   * @default undefined (plain NDJSON files under /files/)
   */
  filesAsBinary?: "json" | "xml";
  /** With `filesAsBinary`: the Binary's `data` is the base64 of the gzip of the NDJSON. @default false */
  binaryGzipContent?: boolean;
  /**
   * With `filesAsBinary: "json"` (or an XML server asked for JSON): where `data` sits. "data-last":
   * `{"resourceType","id","contentType","data"}`; "data-first":
   * `{"resourceType","data","id","contentType"}`. FHIR XML has a fixed element order (data last).
   * @default "data-last"
   */
  binaryKeyOrder?: "data-last" | "data-first";
  /**
   * A mislabeled manifest: output entries whose content is type K are listed with type
   * `overrides[K]` (e.g. `{Condition: "Patient"}`); the file content is unchanged. Only `output`.
   * @default {}
   */
  manifestTypeOverrides?: Record<string, string>;
  /**
   * Not a FHIR server: `[base]/metadata` answers 200 with an HTML login page
   * (`text/html; charset=utf-8`), as a portal or SSO proxy at the given URL would.
   * @default false
   */
  metadataHtml?: boolean;
  /**
   * Every path on the main origin outside the FHIR base (other than the token endpoint and
   * `/files/`) answers 404 with an HTML page (`text/html`) instead of a JSON OperationOutcome,
   * as a web server in front of a wrong base path does.
   * @default false
   */
  htmlNotFound?: boolean;
  /**
   * Server time of search, read and Binary requests (`[base]/<Type>?…`, `[base]/<Type>/<id>`,
   * `[base]/Binary/<id>`): the answer waits this long (whatever it is: a 401, a 400, a `status`
   * fault). Metadata, SMART configuration, token, bulk kick-off, status and file requests are
   * not delayed. A `latency` fault adds to it. The wait blocks only its own connection (other
   * requests are served meanwhile) and ends when the server closes. Logged as `latencyMs`.
   * @default undefined (no delay)
   */
  latency?: LatencyOption;
  /**
   * Skewed patients, for crawl paging: each of the first `count` patients (`pat-0001`, …) gets
   * `observations` extra laboratory and vital-signs Observations (`obs-0001-h0001`, …; kept by
   * the default category filter, Epic's too), so its Observation search spans many pages (250
   * with the default `_count` of 20: 13 or more). They come from a PRNG stream of their own, so
   * every other resource is the same as without this option. Bulk exports include them.
   * @default undefined (no heavy patients)
   */
  heavyPatients?: { count: number; observations: number };
  /**
   * Search Bundles' `next` link URLs are relative to the FHIR base
   * (`Observation?patient=pat-0001&_count=20&_offset=20`), as some servers write them.
   * @default false (absolute URLs)
   */
  relativeNextLinks?: boolean;
  /**
   * Whether commas in a search's `identifier` value separate OR-ed values, as FHIR says
   * (`Patient?identifier=S|a,S|b`). false mimics a server that ignores the OR: the whole value
   * is one literal identifier, so a list matches nothing while a single value still works.
   * Bulk `_typeFilter` always ORs.
   * @default true
   */
  identifierOr?: boolean;
  /**
   * MRN values (e.g. "MRN0003", system `urn:oid:1.2.3.4`) each given to one extra, complete
   * patient too, so that MRN matches two Patients: `pat-dup-1`, `pat-dup-2`, … in list order,
   * each with its own encounters, observations, documents and so on (ids like `enc-dup-1-1`).
   * The extras are members of Group `all` (not `even` or `odd`). A value no generated patient
   * has simply belongs to its extra patient alone.
   * @default []
   */
  duplicateMrns?: string[];
  /**
   * "warning": the first page of every search Bundle carries an OperationOutcome entry
   * (`search.mode` "outcome", severity warning, Epic's code 4119 "This response includes
   * information available to the authorized user…", diagnostics "Some results may be
   * filtered…"), as Epic sends. It has no `fullUrl` and does not count in `total`.
   * @default "none"
   */
  searchOutcomes?: "none" | "warning";
  /**
   * Keep every request in {@linkcode FakeFhirServer.requests}. false leaves it empty (for long
   * memory benchmarks); `requestCount()`, `totalLatencyMs()` and `violations` still count.
   * @default true
   */
  logRequests?: boolean;
}

/** What a request was, as the server routed it. */
export type RequestKind =
  | "metadata"
  | "smart-config"
  | "token"
  | "kickoff"
  | "status"
  | "delete"
  | "file"
  | "search"
  | "read"
  | "binary"
  | "other";

/** One request to either listener, as logged in {@linkcode FakeFhirServer.requests}. */
export interface LoggedRequest {
  /** 1-based position in the log. */
  seq: number;
  /** Server clock (ms) when the request arrived. */
  time: number;
  /** Which listener got it. */
  listener: "main" | "second";
  /** HTTP method. */
  method: string;
  /** Request path as sent (not percent-decoded), without the query. */
  path: string;
  /** Raw query string without "?" ("" when none). */
  query: string;
  /** Every request header, names lower-cased. */
  headers: Record<string, string>;
  /** Request body as text, when there was one. */
  body?: string;
  /** Status code answered (the fault's status for a faulted request). */
  status: number;
  /** How the request was routed. */
  kind: RequestKind;
  /** Export job id, for status, delete and file requests (and the kick-off that created it). */
  jobId?: string;
  /**
   * Milliseconds the server waited before answering: the `latency` option plus a `latency`
   * fault. Absent when it did not wait.
   */
  latencyMs?: number;
  /** Server clock (ms) when the answer was ready to send (after any latency). */
  answered?: number;
}

export type { Fault, FaultRule, ShortenFault } from "./fault_types.ts";
