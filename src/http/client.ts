/**
 * The one HTTP client. Nothing else calls `fetch`: every request goes through the shared
 * connection cap, the per-server slow-down, the retry policy and the rules about where the
 * `Authorization` header may go.
 */

import { type Clock, systemClock } from "../clock.ts";
import { AuthError, ServerError, TransientError } from "../errors.ts";
import { bodyText, isTransientOutcome } from "../fhir/operation_outcome.ts";
import { consumeBody, readErrorBody, readText } from "./body.ts";
import { OriginThrottle, RateLimiter, Semaphore } from "./limiter.ts";
import { backoffDelay, parseRetryAfter } from "./retry_after.ts";
import { shortUrl } from "./short_url.ts";
import {
  type Authorizer,
  DEFAULT_RETRY,
  type HttpClientOptions,
  type HttpEvent,
  NO_AUTH,
  type RequestOptions,
  type RetryPolicy,
} from "./types.ts";

/** Statuses worth retrying: timeouts, throttling, and server-side hiccups. */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

const MAX_REDIRECTS = 10;

/** After this long with nothing but failures, the server counts as unreachable. */
export const UNREACHABLE_AFTER_MS = 60_000;

/** The client. One per run, shared by every task so the connection cap is global. */
export class HttpClient {
  readonly baseUrl: string;
  readonly clock: Clock;
  readonly #origin: string;
  #auth: Authorizer;
  readonly #slots: Semaphore;
  readonly #throttle: OriginThrottle;
  readonly #rate: RateLimiter | undefined;
  readonly #timeoutMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #retry: RetryPolicy;
  readonly #headers: Record<string, string>;
  readonly #signal: AbortSignal | undefined;
  readonly #onEvent: (event: HttpEvent) => void;
  readonly #listeners = new Set<(event: HttpEvent) => void>();
  readonly #random: () => number;
  /** The first failed try since the last answer, and the retries since then. */
  #failingSince: number | undefined;
  #retriesSince = 0;
  #unreachable = false;

  constructor(options: HttpClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#origin = new URL(this.baseUrl).origin;
    this.#auth = options.auth ?? NO_AUTH;
    this.clock = options.clock ?? systemClock;
    this.#slots = new Semaphore(options.maxConnections ?? 5);
    this.#throttle = new OriginThrottle(this.clock);
    this.#rate = options.maxRequestsPerSecond
      ? new RateLimiter(options.maxRequestsPerSecond, this.clock)
      : undefined;
    this.#timeoutMs = options.requestTimeoutMs ?? 300_000;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 300_000;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#headers = { ...options.headers };
    this.#signal = options.signal;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#random = options.random ?? Math.random;
  }

  /** Adds a listener for the client's events (retries, unreachable spells); returns its removal. */
  listen(listener: (event: HttpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: HttpEvent): void {
    this.#onEvent(event);
    for (const listener of this.#listeners) listener(event);
  }

  /** The server answered (anything but a failure worth retrying). */
  #answered(): void {
    this.#failingSince = undefined;
    this.#retriesSince = 0;
    if (this.#unreachable) {
      this.#unreachable = false;
      this.#emit({ type: "reachable" });
    }
  }

  /** A try failed and will be retried. */
  #failed(): void {
    const now = this.clock.now();
    this.#failingSince ??= now;
    this.#retriesSince++;
    if (now - this.#failingSince >= UNREACHABLE_AFTER_MS) {
      this.#unreachable = true;
      this.#emit({ type: "unreachable", sinceMs: this.#failingSince, retries: this.#retriesSince });
    }
  }

  /** True while no request has been answered for over a minute (see UNREACHABLE_AFTER_MS). */
  get unreachable(): boolean {
    return this.#unreachable;
  }

  /** Sets the authentication (the SMART strategy itself needs a client to fetch tokens). */
  setAuth(auth: Authorizer): void {
    this.#auth = auth;
  }

  /** Adds a header sent on every request to the FHIR server's origin. */
  setHeader(name: string, value: string): void {
    this.#headers[name] = value;
  }

  /** The longest wait any Retry-After may impose. */
  get maxRetryAfterMs(): number {
    return this.#maxRetryAfterMs;
  }

  /** Resolves a URL relative to the FHIR base (`Binary/1` -> `<base>/Binary/1`). */
  resolve(url: string): string {
    return new URL(url, this.baseUrl + "/").href;
  }

  /** Parses a Retry-After value and caps it. */
  retryAfterMs(value: string | null): number | undefined {
    const ms = parseRetryAfter(value, this.clock.now());
    return ms === undefined ? undefined : Math.min(ms, this.#maxRetryAfterMs);
  }

  /** GET (or other method) and parse the body as JSON. Returns status, headers and body. */
  async json(
    url: string,
    options: RequestOptions = {},
  ): Promise<{ status: number; headers: Headers; body: unknown }> {
    // The connection is given back as soon as the body is read; parsing happens after, so the
    // next request can go out meanwhile.
    const got = await this.request(url, { ...options, streaming: true }, async (res, progress) => ({
      status: res.status,
      headers: res.headers,
      text: await readText(res, progress, `${options.method ?? "GET"} ${shortUrl(url)}`),
    }));
    let body: unknown = got.text;
    try {
      body = got.text ? JSON.parse(got.text) : null;
    } catch {
      // Not JSON: keep the text.
    }
    return { status: got.status, headers: got.headers, body };
  }

  /**
   * Sends a request and hands the response to `consume` while it still holds its connection slot.
   * Transient failures (network errors, 408/429/5xx, a body cut short: `consume` throwing a
   * TransientError) are retried, with the server's Retry-After (capped) or exponential back-off.
   * A 401 re-authorizes once without using up a try. Other statuses throw a ServerError.
   */
  async request<T>(
    url: string,
    options: RequestOptions,
    consume: (res: Response, progress: () => void) => Promise<T>,
  ): Promise<T> {
    const method = options.method ?? "GET";
    const policy = { ...this.#retry, ...options.retry };
    const signal = anySignal(this.#signal, options.signal);
    const started = this.clock.now();
    let attempt = 0;
    let reauthorized = false;
    for (;;) {
      signal?.throwIfAborted();
      attempt++;
      let failure: TransientError;
      try {
        const outcome = await this.#once(url, method, options, signal, consume);
        if (outcome.kind === "done") return outcome.value;
        if (outcome.kind === "unauthorized") {
          if (
            !reauthorized && this.#auth.active && this.#auth.renewable !== false && outcome.authSent
          ) {
            reauthorized = true;
            attempt--;
            this.#auth.invalidate();
            this.#emit({ type: "reauthorize", url });
            continue;
          }
          throw new AuthError(
            this.#auth.active
              ? `The server refused our credentials${
                outcome.text ? `: ${outcome.text}` : ""
              } (HTTP 401 from ${method} ${shortUrl(url)}${
                this.#auth.renewable === false ? "" : ", also with a new token"
              })`
              : `The server needs authentication (HTTP 401 from ${method} ${
                shortUrl(url)
              }). Give --smart-client-id and --smart-key, --basic-user and --basic-passwd, or --bearer-token.`,
          );
        }
        failure = outcome.error;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (!(err instanceof TransientError)) throw err;
        failure = err;
      }
      const elapsed = this.clock.now() - started;
      let delay = failure.retryAfterMs ?? backoffDelay(attempt, {
        baseMs: policy.baseDelayMs,
        maxMs: policy.maxDelayMs,
        random: this.#random,
      });
      delay = Math.min(delay, this.#maxRetryAfterMs);
      if (attempt >= policy.maxAttempts || elapsed + delay > policy.deadlineMs) {
        throw new TransientError(
          `${failure.message} (gave up after ${attempt} ${attempt === 1 ? "try" : "tries"})`,
          { status: failure.status, reason: failure.reason },
          { cause: failure },
        );
      }
      if (failure.status === 429) {
        const until = this.clock.now() + delay;
        this.#throttle.pause(new URL(url).origin, until);
        this.#emit({ type: "throttle", origin: new URL(url).origin, untilMs: until });
      }
      this.#failed();
      this.#emit({
        type: "retry",
        method,
        url,
        attempt,
        delayMs: delay,
        reason: failure.reason ?? failure.message,
      });
      await options.onRetry?.(failure);
      await this.clock.sleep(delay, signal);
    }
  }

  /** One try, following redirects. */
  async #once<T>(
    url: string,
    method: string,
    options: RequestOptions,
    signal: AbortSignal | undefined,
    consume: (res: Response, progress: () => void) => Promise<T>,
  ): Promise<
    | { kind: "done"; value: T }
    | { kind: "unauthorized"; authSent: boolean; text: string }
    | { kind: "retry"; error: TransientError }
  > {
    let current = new URL(url);
    let currentMethod = method;
    let body = typeof options.body === "function" ? await options.body() : options.body;
    // A 429 may come while this request waits for a connection: look again once it has one.
    let release: () => void;
    for (;;) {
      await this.#throttle.wait(current.origin, signal);
      release = options.uncapped ? () => {} : await this.#slots.acquire(signal);
      if (!this.#throttle.paused(current.origin)) break;
      release();
    }
    const controller = new AbortController();
    const fetchSignal = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
    try {
      for (let hop = 0;; hop++) {
        // Every try and every redirect hop is a request: each waits for its turn.
        await this.#rate?.take(signal);
        const sameOrigin = current.origin === this.#origin;
        const headers: Record<string, string> = {
          ...(sameOrigin ? this.#headers : {}),
          ...options.headers,
        };
        const authSent = sameOrigin && options.auth !== false && this.#auth.active;
        if (authSent) Object.assign(headers, await this.#auth.headers());
        const timer = setTimeout(
          () => {
            const reason = `no answer within ${this.#timeoutMs / 1000}s`;
            controller.abort(new TransientError(reason, { reason }));
          },
          this.#timeoutMs,
        );
        let res: Response;
        try {
          res = await fetch(current, {
            method: currentMethod,
            headers,
            body: body ?? null,
            redirect: "manual",
            signal: fetchSignal,
          });
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          const reason = controller.signal.aborted ? controller.signal.reason : err;
          const cause = describeNetworkError(reason);
          throw new TransientError(
            `${cause} (${currentMethod} ${shortUrl(current)})`,
            { reason: cause },
            { cause: err },
          );
        } finally {
          clearTimeout(timer);
        }
        this.#emit({
          type: "request",
          method: currentMethod,
          url: current.href,
          status: res.status,
        });
        if (!TRANSIENT_STATUSES.has(res.status)) this.#answered();
        if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.has("location")) {
          await res.body?.cancel();
          if (hop >= MAX_REDIRECTS) {
            throw new ServerError(`Too many redirects from ${url}`, { url, status: res.status });
          }
          current = new URL(res.headers.get("location")!, current);
          if (
            res.status === 303 ||
            ((res.status === 301 || res.status === 302) && currentMethod === "POST")
          ) {
            currentMethod = "GET";
            body = undefined;
          }
          continue;
        }
        if (res.status === 401) {
          const text = bodyText(await readErrorBody(res));
          return { kind: "unauthorized", authSent, text };
        }
        const accepted = (res.status >= 200 && res.status < 300) ||
          (options.acceptStatuses?.includes(res.status) ?? false);
        if (accepted) {
          const value = await consumeBody(res, {
            idleMs: this.#timeoutMs,
            abort: (reason) => controller.abort(reason),
            describe: `${currentMethod} ${shortUrl(current)}`,
            signal,
            streaming: options.streaming ?? false,
          }, consume);
          return { kind: "done", value };
        }
        const errorBody = await readErrorBody(res);
        const headersObj = headersToObject(res.headers);
        const text = bodyText(errorBody);
        // Cause first, the URL short: a kick-off URL alone runs to hundreds of characters.
        const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
        const cause = text ? `${text.slice(0, 200)}` : status;
        const message = `${cause} (${text ? `${status} from ` : ""}${currentMethod} ${
          shortUrl(current)
        })`;
        const transient = TRANSIENT_STATUSES.has(res.status) ||
          (options.retryStatuses?.includes(res.status) ?? false) ||
          (res.status >= 500 && isTransientOutcome(errorBody));
        if (transient) {
          return {
            kind: "retry",
            error: new TransientError(message, {
              reason: text ? `${status}: ${text.slice(0, 100)}` : status,
              status: res.status,
              retryAfterMs: this.retryAfterMs(res.headers.get("retry-after")),
              body: errorBody,
              headers: headersObj,
            }),
          };
        }
        throw new ServerError(message, {
          url: current.href,
          status: res.status,
          body: errorBody,
          headers: headersObj,
        });
      }
    } finally {
      release();
    }
  }
}

/** Response headers as a plain object with lower-cased names (for the export log). */
export function headersToObject(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name.toLowerCase()] = value;
  });
  return out;
}

/** The cause of a failed fetch, without the URL Deno's message repeats. */
function describeNetworkError(err: unknown): string {
  if (err instanceof TransientError) return err.message;
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return `${err.message}${cause}`.replace(/^error sending request for url \([^)]*\):\s*/, "");
  }
  return String(err);
}

function anySignal(
  a: AbortSignal | undefined,
  b: AbortSignal | undefined,
): AbortSignal | undefined {
  if (a && b) return AbortSignal.any([a, b]);
  return a ?? b;
}
