/** A streaming, crash-safe writer for one NDJSON file, optionally gzip-compressed. */

import { commitTemp, FILE_MODE, tempPathFor } from "./files.ts";

/**
 * Writes to a temporary name next to `path` and renames it to `path` only in
 * {@linkcode commit}; memory stays flat whatever the size (bytes stream through
 * CompressionStream straight to disk). A crash leaves only a `.part` file that no reader picks up.
 */
export class AtomicFileWriter {
  /** Bytes on disk (compressed size when gzip), known after commit. */
  diskBytes = 0;
  /** Where the bytes go: plain NDJSON in; gzip (if asked) happens inside. */
  readonly writable: WritableStream<Uint8Array>;
  readonly #temp: string;
  readonly #finished: Promise<void>;

  private constructor(readonly path: string, temp: string, file: Deno.FsFile, gzip: boolean) {
    this.#temp = temp;
    // The file's own writable is the fast path to disk (a custom sink costs ~30% throughput);
    // it closes the file when the stream ends, so commit() fsyncs through a second handle.
    if (gzip) {
      const gz = new CompressionStream("gzip");
      this.writable = gz.writable as WritableStream<Uint8Array>;
      this.#finished = gz.readable.pipeTo(file.writable);
      // The pipe's rejection is re-raised by commit(); do not let it go unhandled meanwhile.
      this.#finished.catch(() => {});
    } else {
      this.writable = file.writable;
      this.#finished = Promise.resolve();
    }
  }

  /** Opens a temporary file for `path`. */
  static async create(path: string, options: { gzip: boolean }): Promise<AtomicFileWriter> {
    const temp = tempPathFor(path);
    const file = await Deno.open(temp, { write: true, createNew: true, mode: FILE_MODE });
    return new AtomicFileWriter(path, temp, file, options.gzip);
  }

  /**
   * Call after the writable has been closed: waits for the last compressed bytes, fsyncs, and
   * renames into place.
   */
  async commit(): Promise<void> {
    await this.#finished;
    const file = await Deno.open(this.#temp, { read: true, write: true });
    try {
      await file.sync();
      this.diskBytes = (await file.stat()).size;
    } finally {
      file.close();
    }
    await commitTemp(this.#temp, this.path);
  }

  #out: WritableStreamDefaultWriter<Uint8Array> | undefined;

  /**
   * The writer of {@linkcode AtomicFileWriter.writable}, made once. Use it rather than
   * `writable.getWriter()`: abort() can then stop the stream even while it is held.
   */
  get out(): WritableStreamDefaultWriter<Uint8Array> {
    this.#out ??= this.writable.getWriter();
    return this.#out;
  }

  /** Throws the partial file away. Safe to call after a failure at any point. */
  async abort(): Promise<void> {
    if (this.#out) await this.#out.abort().catch(() => {});
    else await this.writable.abort().catch(() => {});
    await this.#finished.catch(() => {});
    await Deno.remove(this.#temp).catch(() => {});
  }
}
