/**
 * Downloading one export file: streamed, checked, gzip-compressed, written atomically. A file
 * becomes a committed data file only when its rows are all of the manifest's type, its last line
 * is complete and its resource count matches the manifest.
 */

import { join } from "node:path";
import { ServerError } from "../errors.ts";
import type { HttpClient } from "../http/client.ts";
import type { Reporter } from "../log/events.ts";
import { ensureDir } from "../workspace/files.ts";
import type { BulkFile } from "../workspace/metadata.ts";
import { AtomicFileWriter } from "../workspace/ndjson_writer.ts";
import { binarySource, bodyKind } from "./binary_body.ts";
import { type ChunkSource, gunzipIfNeeded, networkSource } from "./body_source.ts";
import { IncompleteFileError, NdjsonCheck } from "./ndjson_check.ts";

/** What a finished download wrote. */
export interface DownloadResult {
  /** Non-empty lines (resources). */
  resources: number;
  /** NDJSON bytes received (decompressed), the log's `fileSize`. */
  bytes: number;
  /** Bytes on disk. */
  diskBytes: number;
}

/** How often (bytes) a download reports progress. */
const PROGRESS_EVERY = 4 * 1024 * 1024;

/**
 * Moves the body into the file: each chunk is checked (the check copies what it keeps) and
 * handed to the writer, whose write is awaited before the next read reuses the buffer. A plain
 * loop, not a chain of stream stages: this is the hot path.
 */
async function pump(
  source: ChunkSource,
  check: NdjsonCheck,
  sink: WritableStream<Uint8Array>,
  onBytes: (bytes: number) => void,
): Promise<void> {
  const out = sink.getWriter();
  let reported = 0;
  try {
    for (let chunk = await source.read(); chunk; chunk = await source.read()) {
      check.add(chunk);
      await out.write(chunk);
      if (check.bytes - reported >= PROGRESS_EVERY) {
        reported = check.bytes;
        onBytes(check.bytes);
      }
    }
    const tail = check.finish();
    if (tail) await out.write(tail);
    await out.close();
  } catch (err) {
    await source.cancel(err);
    await out.abort(err).catch(() => {});
    throw err;
  }
}

/** Options for {@linkcode downloadFile}. */
export interface DownloadOptions {
  http: HttpClient;
  /** The export folder. */
  dir: string;
  /** Compress on disk. */
  gzip: boolean;
  /** Send the access token (manifest `requiresAccessToken`). */
  auth: boolean;
  reporter: Reporter;
}

/**
 * Downloads `file` to `dir/file.name`. The bytes stream from the socket through the checks and
 * the compressor to a temporary file that is renamed only when complete and checked; a cut
 * connection or a short body throws TransientError inside the request, so the client retries
 * from scratch. A file wrapped in a Binary resource is unwrapped; a server that answers XML is
 * asked again for JSON.
 */
export async function downloadFile(
  file: BulkFile,
  options: DownloadOptions,
): Promise<DownloadResult> {
  if (file.name.includes("/")) await ensureDir(join(options.dir, file.name.split("/")[0]!));
  const first = await attempt(file, options, "application/fhir+ndjson");
  if (first !== "xml") return first;
  // An XML Binary: such servers pick the Binary's format from Accept, so ask for JSON.
  const again = await attempt(file, options, "application/fhir+json");
  if (again === "xml") {
    throw new IncompleteFileError(
      `The file ${file.url}`,
      "answered XML even when asked for JSON; smart-fetch reads NDJSON or JSON Binary files",
    );
  }
  return again;
}

async function attempt(
  file: BulkFile,
  options: DownloadOptions,
  accept: string,
): Promise<DownloadResult | "xml"> {
  const { http, reporter } = options;
  const what = `The file ${file.url}`;
  return await http.request(file.url, {
    auth: options.auth,
    headers: { Accept: accept },
    streaming: true,
  }, async (res, progress) => {
    if (!res.body) throw new IncompleteFileError(what, "answered without a body");
    const kind = bodyKind(res.headers.get("content-type"));
    if (kind === "xml") {
      await res.body.cancel();
      return "xml";
    }
    let source = networkSource(res.body, progress, `GET ${file.url}`);
    if (kind === "binary-json") source = binarySource(source, what);
    source = await gunzipIfNeeded(source, what);
    const check = new NdjsonCheck({ what, type: file.type, count: file.count });
    const writer = await AtomicFileWriter.create(join(options.dir, file.name), {
      gzip: options.gzip,
    });
    try {
      await pump(
        source,
        check,
        writer.writable,
        (bytes) => reporter.emit({ type: "file-bytes", name: file.name, bytes }),
      );
      await writer.commit();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    return { resources: check.resources, bytes: check.bytes, diskBytes: writer.diskBytes };
  });
}

/** True when a download failed because its URL no longer works (the file expired). */
export function isExpiredFileError(err: unknown): boolean {
  return err instanceof ServerError && [403, 404, 410].includes(err.status ?? 0);
}
