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
}

/** What a fault rule does to a matching request. */
export type Fault =
  | {
    kind: "status";
    status: number;
    retryAfter?: string;
    /** "transient" => OperationOutcome with code transient; "text" => text/plain; else JSON. */
    body?: "transient" | "text" | unknown;
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
