/** Response body helpers: an idle watchdog that turns stalls and cut connections into retries. */

import { TransientError } from "../errors.ts";

/** Options for {@linkcode guardBody}. */
export interface GuardOptions {
  /** Longest pause between two chunks before the connection is given up. */
  idleMs: number;
  /** Aborts the underlying request. */
  abort: (reason: unknown) => void;
  /** `GET <url>`, for messages. */
  describe: string;
  /** The run's signal: an abort by the user is not turned into a retry. */
  signal?: AbortSignal | undefined;
}

/**
 * Wraps a response so that reading its body fails with a TransientError (retried by the client)
 * when the connection drops, the body ends short of its Content-Length, or no byte arrives for
 * `idleMs`.
 */
export function guardBody(res: Response, options: GuardOptions): Response {
  if (!res.body) return res;
  const reader = res.body.getReader();
  // One watchdog per body, not a timer per chunk: this sits on the download hot path.
  let last = Date.now();
  let stalled: TransientError | undefined;
  const watchdog = setInterval(() => {
    if (Date.now() - last < options.idleMs) return;
    stalled = new TransientError(
      `${options.describe}: no data for ${Math.round(options.idleMs / 1000)}s`,
    );
    clearInterval(watchdog);
    options.abort(stalled);
  }, Math.max(10, Math.min(options.idleMs / 4, 5000)));
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        last = Date.now();
        if (done) {
          clearInterval(watchdog);
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (err) {
        clearInterval(watchdog);
        if (options.signal?.aborted) return controller.error(options.signal.reason);
        controller.error(
          stalled ?? (err instanceof TransientError ? err : new TransientError(
            `${options.describe}: connection lost while reading the body (${
              err instanceof Error ? err.message : String(err)
            })`,
            {},
            { cause: err },
          )),
        );
      }
    },
    cancel(reason) {
      clearInterval(watchdog);
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
