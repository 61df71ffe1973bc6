/**
 * The download queue of one manifest: skips files already on disk, downloads the rest with a few
 * workers, logs every file, saves progress now and then, and sets aside files whose URLs expired.
 */

import { join } from "node:path";
import type { Clock } from "../clock.ts";
import { ServerError, TransientError } from "../errors.ts";
import type { HttpClient } from "../http/client.ts";
import type { Reporter } from "../log/events.ts";
import { type ExportLog, loggableHeaders } from "../log/export_log.ts";
import { exists } from "../workspace/files.ts";
import type { BulkFile } from "../workspace/metadata.ts";
import { downloadFile, type DownloadResult, isExpiredFileError } from "./download.ts";
import { IncompleteFileError, MislabeledFileError } from "./ndjson_check.ts";

/** Progress of finished files is saved at most this often (the files themselves are the truth). */
const SAVE_EVERY_MS = 2000;

/** Options for {@linkcode downloadQueue}. */
export interface QueueOptions {
  http: HttpClient;
  dir: string;
  gzip: boolean;
  /** Send the access token (manifest `requiresAccessToken`). */
  auth: boolean;
  reporter: Reporter;
  log: ExportLog;
  exportId: string;
  clock: Clock;
  /** Downloads at once (the client's connection cap still applies). */
  concurrency: number;
  /** Records the counts of finished files (called every few seconds and at the end). */
  save: (finished: ReadonlyMap<string, DownloadResult>) => Promise<void>;
}

/** A file that failed its checks and was not saved. */
export interface FailedFile {
  file: BulkFile;
  /** Its rows are of another type than the manifest says (not retried), or it stayed short. */
  reason: "mislabeled" | "incomplete";
  message: string;
}

/** Why a download's content was refused, if it was (rather than the connection failing). */
export function contentFailure(err: unknown): FailedFile["reason"] | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof MislabeledFileError) return "mislabeled";
    if (e instanceof IncompleteFileError) return "incomplete";
  }
  return undefined;
}

/** What the queue did. */
export interface QueueResult {
  /** Files whose URLs no longer work (403/404/410). */
  expired: BulkFile[];
  /** Files whose content failed the checks (after retries); the others went on. */
  failed: FailedFile[];
  /** Files downloaded now, and their totals. */
  downloaded: { files: number; resources: number; bytes: number; diskBytes: number };
  /** Files already complete from an earlier run. */
  alreadyHad: number;
}

/**
 * Downloads every file not on disk yet. A file whose content fails its checks is set aside and
 * the others go on. On any other failure that is not an expired URL (the server or the network
 * is down), no new file is started, the ones in flight finish or fail, and then the failure is
 * thrown (finished files stay: a rerun skips them).
 */
export async function downloadQueue(
  files: readonly BulkFile[],
  o: QueueOptions,
): Promise<QueueResult> {
  const todo: BulkFile[] = [];
  let alreadyHad = 0;
  for (const f of files) {
    if (await exists(join(o.dir, f.name))) alreadyHad++;
    else todo.push(f);
  }
  o.reporter.emit({ type: "files-planned", total: files.length, alreadyDone: alreadyHad });
  const result: QueueResult = {
    expired: [],
    failed: [],
    downloaded: { files: 0, resources: 0, bytes: 0, diskBytes: 0 },
    alreadyHad,
  };
  const finished = new Map<string, DownloadResult>();
  let lastSave = o.clock.now();
  let failure: { error: unknown } | undefined;
  let next = 0;

  const one = async (file: BulkFile) => {
    await o.log.write(o.exportId, "download_request", {
      fileUrl: file.url,
      itemType: file.itemType,
      resourceType: file.type,
    });
    o.reporter.emit({ type: "file-start", name: file.name, resourceType: file.type });
    try {
      const got = await downloadFile(file, {
        http: o.http,
        dir: o.dir,
        gzip: o.gzip,
        auth: o.auth,
        reporter: o.reporter,
      });
      await o.log.write(o.exportId, "download_complete", {
        fileUrl: file.url,
        resourceCount: got.resources,
        fileSize: got.bytes,
      });
      o.reporter.emit({ type: "file-done", name: file.name, resourceType: file.type, ...got });
      finished.set(file.name, got);
      const d = result.downloaded;
      d.files++;
      d.resources += got.resources;
      d.bytes += got.bytes;
      d.diskBytes += got.diskBytes;
      if (o.clock.now() - lastSave >= SAVE_EVERY_MS) {
        lastSave = o.clock.now();
        await o.save(new Map(finished));
      }
    } catch (err) {
      const status = err instanceof ServerError || err instanceof TransientError
        ? err.status
        : undefined;
      await o.log.write(o.exportId, "download_error", {
        fileUrl: file.url,
        body: null,
        code: status ?? null,
        message: (err as Error).message,
        responseHeaders: loggableHeaders(err instanceof ServerError ? err.headers : undefined),
      });
      const refused = contentFailure(err);
      if (refused) {
        // One bad file does not stop the others: it is reported, and the next run retries it.
        result.failed.push({ file, reason: refused, message: (err as Error).message });
        o.reporter.emit({
          type: "message",
          level: "warn",
          text: `${file.name} was not saved: ${(err as Error).message}`,
        });
        return;
      }
      if (!isExpiredFileError(err)) throw err;
      result.expired.push(file);
    }
  };

  const worker = async () => {
    while (!failure && next < todo.length) {
      try {
        await one(todo[next++]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
  if (finished.size) await o.save(finished);
  if (failure) throw failure.error;
  return result;
}
