/** Downloading one export file: streamed, counted, gzip-compressed, written atomically. */

import { join } from "node:path";
import { ServerError, TransientError } from "../errors.ts";
import type { HttpClient } from "../http/client.ts";
import type { Reporter } from "../log/events.ts";
import { ensureDir } from "../workspace/files.ts";
import type { BulkFile } from "../workspace/metadata.ts";
import { AtomicFileWriter } from "../workspace/ndjson_writer.ts";

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
/** The first line must be a JSON object within this many bytes. */
const MAX_FIRST_LINE = 64 * 1024 * 1024;

/**
 * Counts lines and bytes as NDJSON streams past, checks that the first line is a JSON object
 * with a resourceType (an HTML error page or a pretty-printed OperationOutcome is not NDJSON),
 * and ends the file with a newline so files can be concatenated safely.
 */
class NdjsonStats {
  resources = 0;
  bytes = 0;
  #last = 0x0a;
  #head: Uint8Array[] = [];
  #headBytes = 0;
  #checked = false;
  #reported = 0;

  constructor(private readonly what: string, private readonly onBytes: (n: number) => void) {}

  /** Takes the next chunk into account. */
  add(chunk: Uint8Array): void {
    this.#count(chunk);
    if (!this.#checked) this.#collectHead(chunk);
    this.bytes += chunk.length;
    if (this.bytes - this.#reported >= PROGRESS_EVERY) {
      this.#reported = this.bytes;
      this.onBytes(this.bytes);
    }
  }

  /** At the end: the bytes to append (a final newline), if any. */
  finish(): Uint8Array | undefined {
    if (!this.#checked && this.#headBytes > 0) this.#checkHead();
    if (this.#last === 0x0a) return undefined;
    this.resources++;
    return new Uint8Array([0x0a]);
  }

  #count(chunk: Uint8Array): void {
    let prev = this.#last;
    let at = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, at);
      if (nl < 0) break;
      const before = nl > 0 ? chunk[nl - 1]! : prev;
      if (before !== 0x0a && !(before === 0x0d && (nl > 1 ? chunk[nl - 2] : prev) === 0x0a)) {
        this.resources++;
      }
      prev = 0x0a;
      at = nl + 1;
    }
    if (chunk.length) this.#last = chunk[chunk.length - 1]!;
  }

  #collectHead(chunk: Uint8Array): void {
    const nl = chunk.indexOf(0x0a);
    this.#head.push(nl < 0 ? chunk : chunk.subarray(0, nl));
    this.#headBytes += nl < 0 ? chunk.length : nl;
    if (nl >= 0 || this.#headBytes > MAX_FIRST_LINE) this.#checkHead();
  }

  #checkHead(): void {
    this.#checked = true;
    const head = new Uint8Array(this.#headBytes);
    let at = 0;
    for (const part of this.#head) {
      head.set(part.subarray(0, Math.min(part.length, head.length - at)), at);
      at += part.length;
    }
    this.#head = [];
    const text = new TextDecoder().decode(head).trim();
    if (!text) return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (
      !value || typeof value !== "object" ||
      typeof (value as { resourceType?: unknown }).resourceType !== "string"
    ) {
      throw new TransientError(
        `${this.what} is not NDJSON of FHIR resources (it starts with ${
          JSON.stringify(text.slice(0, 60))
        })`,
      );
    }
  }
}

/** True when bytes start like a gzip stream. */
function isGzip(bytes: Uint8Array | undefined): boolean {
  return !!bytes && bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * A body that is gzip without saying so (some storage serves .gz objects as they are): the
 * first chunk, already read, and the rest, decompressed together. Rare, so streams are fine here.
 */
function gunzipRest(
  first: Uint8Array,
  rest: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>,
) {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(first);
    },
    async pull(controller) {
      const { done, value } = rest instanceof ReadableStreamBYOBReader
        ? await rest.read(new Uint8Array(READ_BUFFER))
        : await (rest as ReadableStreamDefaultReader<Uint8Array>).read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return rest.cancel(reason);
    },
  }).pipeThrough(new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>)
    .getReader();
}

/** Size of the buffer a download reads into (reused: no garbage per chunk). */
const READ_BUFFER = 256 * 1024;

/**
 * Moves the body into the file. A plain read loop, not a chain of stream stages (each stage
 * costs a promise per chunk), reading into one reused buffer where the body allows it (BYOB),
 * so memory stays flat and the garbage collector idle: this is the hot path.
 */
async function pump(
  body: ReadableStream<Uint8Array>,
  stats: NdjsonStats,
  sink: WritableStream<Uint8Array>,
  progress: () => void,
): Promise<void> {
  const out = sink.getWriter();
  let reader: ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    let buffer: ArrayBuffer | undefined = new ArrayBuffer(READ_BUFFER);
    let byob: ReadableStreamBYOBReader | undefined;
    try {
      byob = body.getReader({ mode: "byob" });
      reader = byob;
    } catch {
      reader = body.getReader();
      buffer = undefined;
    }
    const read = async (): Promise<ReadableStreamReadResult<Uint8Array>> => {
      const next = byob && buffer
        ? await byob.read(new Uint8Array(buffer))
        : await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
      progress();
      return next;
    };
    let next = await read();
    if (!next.done && isGzip(next.value)) {
      // Rare: gzip bytes without Content-Encoding. Copy the first chunk out of the shared buffer.
      reader = gunzipRest(
        next.value.slice(),
        byob ?? (reader as ReadableStreamDefaultReader<Uint8Array>),
      );
      byob = undefined;
      next = await read();
    }
    while (!next.done) {
      stats.add(next.value);
      // Awaited: the buffer is reused for the next read once the compressor has taken the bytes.
      await out.write(next.value);
      if (byob) buffer = next.value.buffer as ArrayBuffer;
      next = await read();
    }
    const tail = stats.finish();
    if (tail) await out.write(tail);
    await out.close();
  } catch (err) {
    await reader?.cancel(err).catch(() => {});
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
 * Downloads `file` to `dir/file.name`. The bytes stream from the socket through the counters and
 * the compressor to a temporary file that is renamed only when complete; a connection cut or a
 * short body throws TransientError inside the request, so the client retries from scratch.
 */
export async function downloadFile(
  file: BulkFile,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const { http, reporter } = options;
  const path = join(options.dir, file.name);
  if (file.name.includes("/")) await ensureDir(join(options.dir, file.name.split("/")[0]!));
  return await http.request(file.url, {
    auth: options.auth,
    headers: { Accept: "application/fhir+ndjson" },
    streaming: true,
  }, async (res, progress) => {
    const writer = await AtomicFileWriter.create(path, { gzip: options.gzip });
    const stats = new NdjsonStats(
      `The file ${file.url}`,
      (bytes) => reporter.emit({ type: "file-bytes", name: file.name, bytes }),
    );
    try {
      if (!res.body) throw new TransientError(`${file.url} answered without a body`);
      await pump(res.body, stats, writer.writable, progress);
      await writer.commit();
    } catch (err) {
      // The client turns stream failures (a cut connection, a corrupt gzip stream) into retries.
      await writer.abort();
      throw err;
    }
    return { resources: stats.resources, bytes: stats.bytes, diskBytes: writer.diskBytes };
  });
}

/** True when a download failed because its URL no longer works (the file expired). */
export function isExpiredFileError(err: unknown): boolean {
  return err instanceof ServerError && [403, 404, 410].includes(err.status ?? 0);
}
