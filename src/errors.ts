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
  /** Another run holds the folder's lock. */
  Locked: 4,
  /** Interrupted by SIGINT/SIGTERM; rerun the same command to resume. */
  Interrupted: 130,
} as const;

/** Base class: every error we raise on purpose. Its message is shown as `error: <message>`. */
export class SmartFetchError extends Error {
  /** The exit code main.ts uses for this error. */
  readonly exitCode: number = ExitCode.Failure;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad flags or arguments. */
export class UsageError extends SmartFetchError {
  override readonly exitCode: number = ExitCode.Usage;
}

/** Bad config file, key file or ID file. */
export class ConfigError extends SmartFetchError {
  override readonly exitCode: number = ExitCode.Usage;
}

/** Could not authenticate with the server. */
export class AuthError extends SmartFetchError {}

/** The server answered with an error that retrying will not fix. */
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
    this.body = details.body;
    this.headers = details.headers;
  }
}

/** A failure that is worth retrying (network error, 429, 5xx, body cut short). */
export class TransientError extends SmartFetchError {
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
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
    } = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.body = details.body;
    this.headers = details.headers;
  }
}

/** Another process holds the lock of the folder. */
export class LockedError extends SmartFetchError {
  override readonly exitCode: number = ExitCode.Locked;
}

/** The run was interrupted by a signal. */
export class InterruptedError extends SmartFetchError {
  override readonly exitCode: number = ExitCode.Interrupted;
}

/** Returns the message of any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
