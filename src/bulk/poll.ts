/** Waiting for a bulk export: status polling, partial manifest pages, and their log rows. */

import type { Clock } from "../clock.ts";
import { ServerError, SmartFetchError, type TransientError } from "../errors.ts";
import { headersToObject, type HttpClient } from "../http/client.ts";
import type { RetryPolicy } from "../http/types.ts";
import { backoffDelay } from "../http/retry_after.ts";
import type { Reporter } from "../log/events.ts";
import { type ExportLog, loggableHeaders } from "../log/export_log.ts";
import { formatDuration } from "../log/time_format.ts";
import { type ManifestPage, parseManifest } from "./manifest.ts";

/**
 * Status polls ride out long outages: an export that took days must not be lost to an hour of
 * 503s. (Each try is a cheap GET.)
 */
const POLL_RETRY: Partial<RetryPolicy> = { maxAttempts: 40, deadlineMs: 6 * 3_600_000 };

/** Longest wait between polls when the server gives no Retry-After. */
const MAX_DEFAULT_POLL_MS = 60_000;

/** What a status poll came to. */
export type PollResult =
  | { kind: "ready"; page: ManifestPage }
  | { kind: "expired"; status: number };

/** Options for {@linkcode pollUntilReady}. */
export interface PollOptions {
  http: HttpClient;
  log: ExportLog;
  reporter: Reporter;
  clock: Clock;
  exportId: string;
  /** When the export was kicked off (ms epoch). */
  startedMs: number;
  /** Give up when the export has run this long. */
  maxWaitMs: number;
  /** Write status rows to the log (false when re-polling only to refresh file URLs). */
  logStatus: boolean;
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

/**
 * Polls the status URL until the export is ready (200) or gone (404/410). Waits as the server's
 * Retry-After says (capped), else with growing back-off; shows X-Progress.
 */
export async function pollUntilReady(statusUrl: string, options: PollOptions): Promise<PollResult> {
  const { http, log, reporter, clock, exportId } = options;
  const logError = (
    code: number | null,
    message: string,
    body: unknown,
    headers?: Record<string, string>,
  ) =>
    log.write(exportId, "status_error", {
      body: body ?? null,
      code,
      message,
      responseHeaders: loggableHeaders(headers),
    });
  for (let poll = 1;; poll++) {
    const res = await http.request(statusUrl, {
      headers: { Accept: "application/json" },
      acceptStatuses: [202, 404, 410],
      retry: POLL_RETRY,
      onRetry: (e: TransientError) => logError(e.status ?? null, e.message, e.body, e.headers),
    }, async (r) => ({ status: r.status, headers: r.headers, body: await readBody(r) })).catch(
      async (err) => {
        if (err instanceof ServerError) {
          await logError(err.status ?? null, err.message, err.body, err.headers);
        }
        throw err;
      },
    );
    if (res.status === 404 || res.status === 410) {
      await logError(
        res.status,
        `The status URL answered ${res.status}: the export has expired or was deleted.`,
        res.body,
        headersToObject(res.headers),
      );
      return { kind: "expired", status: res.status };
    }
    if (res.status === 202) {
      const xProgress = res.headers.get("x-progress");
      const retryAfter = res.headers.get("retry-after");
      const nextPollMs = http.retryAfterMs(retryAfter) ??
        backoffDelay(poll, { baseMs: 2000, maxMs: MAX_DEFAULT_POLL_MS, random: () => 0.5 });
      if (options.logStatus) {
        await log.write(exportId, "status_progress", {
          body: res.body === "" ? null : res.body,
          xProgress: xProgress ?? "",
          retryAfter: retryAfter ?? "",
        });
      }
      reporter.emit({ type: "waiting", startedMs: options.startedMs, xProgress, nextPollMs });
      const waited = clock.now() - options.startedMs;
      if (waited + nextPollMs > options.maxWaitMs) {
        await logError(null, "Timed out waiting for the bulk export to finish.", null);
        throw new SmartFetchError(
          `The server has not finished the export after ${
            formatDuration(waited)
          } (limit --max-wait). The job is kept: run the same command again to keep waiting, or use --cancel.`,
        );
      }
      await clock.sleep(nextPollMs);
      continue;
    }
    if (res.status !== 200) {
      await logError(
        res.status,
        `Unexpected status response ${res.status}`,
        res.body,
        headersToObject(res.headers),
      );
      throw new ServerError(
        `The status URL ${statusUrl} answered HTTP ${res.status}; expected 202 (in progress) or 200 (done).`,
        { url: statusUrl, status: res.status, body: res.body },
      );
    }
    try {
      return { kind: "ready", page: parseManifest(res.body, statusUrl) };
    } catch (err) {
      await logError(200, (err as Error).message, res.body, headersToObject(res.headers));
      throw err;
    }
  }
}

/** Fetches a further manifest page (`link` next). */
export async function fetchManifestPage(url: string, http: HttpClient): Promise<ManifestPage> {
  const res = await http.json(url, { headers: { Accept: "application/json" }, retry: POLL_RETRY });
  return parseManifest(res.body, url);
}
