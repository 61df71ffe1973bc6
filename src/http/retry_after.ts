/** Retry-After parsing and the back-off schedule. */

/**
 * Above this, a bare number cannot be a delay in seconds (it would be over 31 years): it is an
 * absolute epoch, which one server sends on 429.
 */
const EPOCH_SECONDS_THRESHOLD = 1e9;
const EPOCH_MS_THRESHOLD = 1e12;

/**
 * Parses a `Retry-After` value into a delay in milliseconds from `nowMs`: delay-seconds, an
 * HTTP-date, or an absolute epoch number (seconds or milliseconds). Returns undefined when the
 * value is absent or unreadable. The caller caps the result.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    if (n >= EPOCH_MS_THRESHOLD) return Math.max(0, n - nowMs);
    if (n >= EPOCH_SECONDS_THRESHOLD) return Math.max(0, n * 1000 - nowMs);
    return n * 1000;
  }
  // An HTTP-date names its day and month ("Wed, 25 Nov 2026 12:00:30 GMT").
  const date = /[a-z]{3}/i.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** Options for {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** First delay in ms. @default 1000 */
  baseMs?: number;
  /** Largest delay in ms. @default 300000 */
  maxMs?: number;
  /** Random source in [0, 1), for jitter. @default Math.random */
  random?: () => number;
}

/**
 * Exponential back-off with jitter for try number `attempt` (1 = the first retry): the nominal
 * delay doubles each time and the actual one is drawn from its upper half, so many clients that
 * failed together do not come back together.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 1000;
  const max = options.maxMs ?? 300_000;
  const random = options.random ?? Math.random;
  const nominal = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(nominal / 2 + (random() * nominal) / 2);
}
