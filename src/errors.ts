/**
 * The typed error hierarchy. Core code throws these; only `main.ts` prints them and picks the
 * exit code (STYLE: "core code throws, main decides").
 */

/** Process exit codes, documented in the README. */
export const ExitCode = {
  /** Everything requested was exported. */
  Ok: 0,
  /** A failure: network, server, file system, authentication. Rerun the same command to resume. */
  Failure: 1,
  /** Bad command line, bad config file or bad input file. Nothing was written. */
  Usage: 2,
  /** The export finished, but the server reported errors (kept in `error/`). */
  ServerErrors: 3,
  /** Another run holds the folder's lock: try again once it is done. */
  Locked: 4,
  /**
   * The server refused the request in a way a rerun cannot fix (a 400 or 404 at kick-off, an
   * unknown Group, 403, credentials refused even after re-authorizing), or sent files that are
   * not what its manifest says. Fix the command, the credentials or the server first.
   */
  Refused: 5,
  /** A bug in smart-fetch. */
  Bug: 70,
  /** Interrupted by SIGINT/SIGTERM; rerun the same command to resume. */
  Interrupted: 130,
} as const;

/** Base class: every error we raise on purpose. Its message is shown as `error: <message>`. */
export class SmartFetchError extends Error {
  /** The exit code main.ts uses for this error. */
  exitCode: number = ExitCode.Failure;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags or arguments. */
export class UsageError extends SmartFetchError {
  override exitCode: number = ExitCode.Usage;
}

/** Bad config file, key file or ID file. */
export class ConfigError extends SmartFetchError {
  override exitCode: number = ExitCode.Usage;
}

/** The server refused our credentials (even after re-authorizing): a rerun cannot fix it. */
export class AuthError extends SmartFetchError {
  override exitCode: number = ExitCode.Refused;
}

/** The server refused the request or sent unusable data, in a way a rerun cannot fix. */
export class RefusedError extends SmartFetchError {
  override exitCode: number = ExitCode.Refused;
}

/**
 * Something went wrong inside smart-fetch itself (a TypeError in our own stream code, say).
 * Never retried: retrying a bug for hours only hides it.
 */
export class InternalError extends SmartFetchError {
  override exitCode: number = ExitCode.Bug;
}

/**
 * The server answered with an error that retrying will not fix now. A 4xx is the server saying
 * no (exit code 5); other statuses (or none) may pass (exit code 1).
 */
export class ServerError extends SmartFetchError {
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
  /** The URL that failed (never carries secrets: we put none in URLs). */
  readonly url: string;
  /** Parsed body (OperationOutcome or other JSON) or text, for the log. */
  readonly body: unknown;
  /** Response headers (lower-cased names), for the log. */
  readonly headers: Record<string, string> | undefined;
  constructor(
    message: string,
    details: {
      url: string;
      status?: number | undefined;
      body?: unknown;
      headers?: Record<string, string> | undefined;
    },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.url = details.url;
    this.status = details.status;
    if (details.status !== undefined && details.status >= 400 && details.status < 500) {
      this.exitCode = ExitCode.Refused;
    }
    this.body = details.body;
    this.headers = details.headers;
  }
}

/** A failure that is worth retrying (network error, 429, 5xx, body cut short). */
export class TransientError extends SmartFetchError {
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
  /** The cause alone, without the URL (`HTTP 503 Service Unavailable`), for retry lines. */
  readonly reason: string | undefined;
  /** Milliseconds the server asked us to wait (already parsed and capped), if it said. */
  readonly retryAfterMs: number | undefined;
  /** Parsed error body, for the log. */
  readonly body: unknown;
  /** Response headers (lower-cased names), for the log. */
  readonly headers: Record<string, string> | undefined;
  constructor(
    message: string,
    details: {
      status?: number | undefined;
      retryAfterMs?: number | undefined;
      body?: unknown;
      headers?: Record<string, string> | undefined;
      reason?: string | undefined;
    } = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = details.status;
    this.reason = details.reason;
    this.retryAfterMs = details.retryAfterMs;
    this.body = details.body;
    this.headers = details.headers;
  }
}

/** Another process holds the lock of the folder. */
export class LockedError extends SmartFetchError {
  override exitCode: number = ExitCode.Locked;
}

/** The run was interrupted by a signal. */
export class InterruptedError extends SmartFetchError {
  override exitCode: number = ExitCode.Interrupted;
}

/** Returns the message of any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
