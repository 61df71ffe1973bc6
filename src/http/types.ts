/** The HTTP client's options and the contracts it works with (authentication, retry policy). */

import type { Clock } from "../clock.ts";
import type { TransientError } from "../errors.ts";

/** Gives the headers that authenticate us to the FHIR server (see src/auth). */
export interface Authorizer {
  /** Headers to add to a request to the FHIR server's origin. */
  headers(): Promise<Record<string, string>>;
  /** Called after a 401: forget the current credentials so the next `headers()` renews them. */
  invalidate(): void;
  /** False for "no authentication": then a 401 cannot be fixed by re-authorizing. */
  readonly active: boolean;
  /** False when credentials cannot be renewed (Basic, a static token): a 401 is final. */
  readonly renewable?: boolean;
}

/** No authentication. */
export const NO_AUTH: Authorizer = {
  headers: () => Promise.resolve({}),
  invalidate: () => {},
  active: false,
};

/** How hard to retry. */
export interface RetryPolicy {
  /** Tries in all, the first included. @default 10 */
  maxAttempts: number;
  /** First back-off delay in ms. @default 1000 */
  baseDelayMs: number;
  /** Largest back-off delay in ms. @default 300000 */
  maxDelayMs: number;
  /** Give up when the next wait would end later than this many ms after the first try. @default 3600000 */
  deadlineMs: number;
}

/** The default retry policy: about 13 minutes of tries, at most an hour of waiting. */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 10,
  baseDelayMs: 1000,
  maxDelayMs: 300_000,
  deadlineMs: 3_600_000,
};

/** Something the client reports while it works (retries and waits), for progress and -v. */
export type HttpEvent =
  | {
    type: "retry";
    method: string;
    url: string;
    attempt: number;
    delayMs: number;
    reason: string;
  }
  | { type: "throttle"; origin: string; untilMs: number }
  | { type: "reauthorize"; url: string }
  | { type: "request"; method: string; url: string; status: number }
  /**
   * No request has succeeded for over a minute (only failures that are being retried): the
   * server is down or out of reach. Sent with every retry from then on.
   */
  | { type: "unreachable"; sinceMs: number; retries: number }
  /** The server answers again after an `unreachable` spell. */
  | { type: "reachable" };

/** Options for {@linkcode HttpClient}. */
export interface HttpClientOptions {
  /** The FHIR base URL. Only its origin ever receives `Authorization`. */
  baseUrl: string;
  /** Authentication. @default NO_AUTH */
  auth?: Authorizer;
  /** @default systemClock */
  clock?: Clock;
  /** Requests in flight at once, downloads included. @default 5 */
  maxConnections?: number;
  /** Most requests started per second (retries, redirects and token requests count). @default no cap */
  maxRequestsPerSecond?: number | undefined;
  /** Ms to wait for response headers, and the longest pause while reading a body. @default 300000 */
  requestTimeoutMs?: number;
  /** Cap on any wait a server asks for with Retry-After (one EHR asked for hours). @default 300000 */
  maxRetryAfterMs?: number;
  /** Retry policy for requests that do not give their own. @default DEFAULT_RETRY */
  retry?: Partial<RetryPolicy>;
  /** Headers sent on every request to the FHIR server's origin (e.g. Epic-Client-ID). */
  headers?: Record<string, string>;
  /** Aborts every request (SIGINT). */
  signal?: AbortSignal | undefined;
  /** Receives retries and waits. */
  onEvent?: ((event: HttpEvent) => void) | undefined;
  /** Random source for jitter. @default Math.random */
  random?: () => number;
}

/** Options for one request. */
export interface RequestOptions {
  /** @default "GET" */
  method?: string;
  headers?: Record<string, string>;
  /**
   * A replayable body (it may be sent again on retry), or a function that makes a fresh one per
   * try (a client assertion must not be replayed: its `jti` is single-use).
   */
  body?:
    | string
    | URLSearchParams
    | Uint8Array<ArrayBuffer>
    | (() => Promise<string | URLSearchParams>);
  /**
   * Whether to send `Authorization`. Even when true it only goes to the FHIR server's origin,
   * never to another one (redirects included). False for files whose manifest says
   * `requiresAccessToken: false`. @default true
   */
  auth?: boolean;
  /** Statuses handed to `consume` rather than treated as errors (2xx always are). */
  acceptStatuses?: readonly number[];
  /** Overrides of the client's retry policy. */
  retry?: Partial<RetryPolicy>;
  /** Also retry these statuses (e.g. a token endpoint's flaky 400). */
  retryStatuses?: readonly number[];
  /** Told about every failed try that will be retried (for the export log). */
  onRetry?: (failure: TransientError) => void | Promise<void>;
  /**
   * The consumer reads the raw body itself (for BYOB reads into a reused buffer on the download
   * hot path) and calls `progress()` whenever bytes arrive; the idle watchdog still applies, and
   * any failure while reading is retried.
   */
  streaming?: boolean;
  /**
   * Not counted against the connection cap: the token request, which requests holding every
   * connection may be waiting for (counting it would deadlock them). @default false
   */
  uncapped?: boolean;
  signal?: AbortSignal;
}
