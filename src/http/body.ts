/**
 * Reading response bodies safely: an idle watchdog that turns stalls into retries, and the
 * conversion of a connection lost mid-body into a TransientError the client retries.
 */

import { InternalError, SmartFetchError, TransientError } from "../errors.ts";

/** Aborts a request when no byte has arrived for `idleMs`. One timer per body, not per chunk. */
class Watchdog {
  #last = Date.now();
  #timer: ReturnType<typeof setInterval>;
  /** Set when the watchdog fired. */
  stalled: TransientError | undefined;

  constructor(idleMs: number, describe: string, abort: (reason: unknown) => void) {
    this.#timer = setInterval(() => {
      if (Date.now() - this.#last < idleMs) return;
      const reason = `no data for ${Math.round(idleMs / 1000)}s`;
      this.stalled = new TransientError(`${reason} (${describe})`, { reason });
      this.stop();
      abort(this.stalled);
    }, Math.max(10, Math.min(idleMs / 4, 5000)));
  }

  /** Bytes arrived. */
  touch(): void {
    this.#last = Date.now();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Options for {@linkcode consumeBody}. */
export interface ConsumeOptions {
  /** Longest pause between two chunks before the connection is given up. */
  idleMs: number;
  /** Aborts the underlying request. */
  abort: (reason: unknown) => void;
  /** `GET <url>`, for messages. */
  describe: string;
  /** The run's signal: an abort by the user is not turned into a retry. */
  signal?: AbortSignal | undefined;
  /**
   * The consumer reads `res.body` itself and calls `progress()` as bytes arrive (the download hot
   * path reads into a reused buffer). Otherwise the body is wrapped so each chunk feeds the
   * watchdog.
   */
  streaming: boolean;
}

/**
 * Hands a response to `consume` under the watchdog. A stall, a dropped connection or a body that
 * ends short of its Content-Length surfaces as a TransientError (retried by the client);
 * file-system failures and our own errors pass through unchanged.
 */
export async function consumeBody<T>(
  res: Response,
  options: ConsumeOptions,
  consume: (res: Response, progress: () => void) => Promise<T>,
): Promise<T> {
  const watchdog = new Watchdog(options.idleMs, options.describe, options.abort);
  const given = options.streaming ? res : withWatchdog(res, watchdog, options.describe);
  try {
    return await consume(given, () => watchdog.touch());
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (watchdog.stalled) throw watchdog.stalled;
    if (err instanceof SmartFetchError) throw err;
    // File-system failures (disk full, permissions) are not the network's fault: no retry.
    if (err instanceof Error && err.name in Deno.errors) throw err;
    // Reads of the connection mark their own failures as transient (see networkSource and
    // withWatchdog): anything else thrown here is our own bug, and retrying would hide it.
    throw new InternalError(
      `internal error while handling ${options.describe}: ${
        err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      }. This is a bug in smart-fetch; please report it with the output of --verbose.`,
      { cause: err },
    );
  } finally {
    watchdog.stop();
    await given.body?.cancel().catch(() => {});
  }
}

/** The same response, its body feeding the watchdog chunk by chunk. */
function withWatchdog(res: Response, watchdog: Watchdog, describe: string): Response {
  if (!res.body) return res;
  const reader = res.body.getReader();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        // A failure of the connection itself: worth a retry.
        controller.error(connectionLost(describe, err));
        return;
      }
      watchdog.touch();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return new Response(stream, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
}

const MAX_ERROR_BODY = 64 * 1024;

/** Reads an error response's body (at most 64 KB): parsed JSON when it is JSON, else text. */
export async function readErrorBody(res: Response): Promise<unknown> {
  let text = "";
  try {
    if (!res.body) return null;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    while (text.length < MAX_ERROR_BODY) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel().catch(() => {});
  } catch {
    // A broken error body is still an error; keep what we have.
  }
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A failure of the connection while a body was being read: worth a retry. */
export function connectionLost(describe: string, err: unknown): TransientError {
  const reason = `connection lost while reading the body (${
    err instanceof Error ? err.message : String(err)
  })`;
  return new TransientError(`${reason} (${describe})`, { reason }, { cause: err });
}

/**
 * Reads a whole (small) body as text in a plain loop, feeding `progress` (the idle watchdog) as
 * chunks arrive. Cheaper than wrapping the body in another stream, which costs memory per
 * response on the hot path of a crawl.
 */
export async function readText(
  res: Response,
  progress: () => void,
  describe: string,
): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (err) {
      throw connectionLost(describe, err);
    }
    progress();
    if (next.done) break;
    text += decoder.decode(next.value, { stream: true });
  }
  return text + decoder.decode();
}
