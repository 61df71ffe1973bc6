/** A streaming, crash-safe writer for one NDJSON file, optionally gzip-compressed. */

import { commitTemp, FILE_MODE, tempPathFor, writeAll } from "./files.ts";

/**
 * Writes to a temporary name next to `path` and renames it to `path` only in
 * {@linkcode commit}; memory stays flat whatever the size (bytes stream through
 * CompressionStream straight to disk). A crash leaves only a `.part` file that no reader picks up.
 */
export class AtomicFileWriter {
  /** Bytes written to disk so far (compressed size when gzip). */
  diskBytes = 0;
  /** Where the bytes go: plain NDJSON in; gzip (if asked) happens inside. */
  readonly writable: WritableStream<Uint8Array>;
  readonly #file: Deno.FsFile;
  readonly #temp: string;
  #closed = false;
  #finished: Promise<void>;

  private constructor(readonly path: string, temp: string, file: Deno.FsFile, gzip: boolean) {
    this.#temp = temp;
    this.#file = file;
    const sink = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await writeAll(file, chunk);
        this.diskBytes += chunk.length;
      },
    });
    if (gzip) {
      const gz = new CompressionStream("gzip");
      this.writable = gz.writable as WritableStream<Uint8Array>;
      this.#finished = gz.readable.pipeTo(sink);
      // The pipe's rejection is re-raised by commit(); do not let it go unhandled meanwhile.
      this.#finished.catch(() => {});
    } else {
      this.writable = sink;
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
   * Call after the writable has been closed (e.g. by `pipeTo`): waits for the last compressed
   * bytes, fsyncs, and renames into place.
   */
  async commit(): Promise<void> {
    await this.#finished;
    await this.#file.sync();
    this.#close();
    await commitTemp(this.#temp, this.path);
  }

  /** Throws the partial file away. Safe to call after a failure at any point. */
  async abort(): Promise<void> {
    try {
      await this.writable.abort().catch(() => {});
    } finally {
      this.#close();
      await Deno.remove(this.#temp).catch(() => {});
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#file.close();
    } catch {
      // Already closed by a failed stream.
    }
  }
}
