/**
 * One output file of a crawl while it grows: rows are kept in memory in a small buffer, then
 * appended to `.crawl/<name>.part` as one gzip member (or plain bytes) and synced. Its length
 * after each append is what the journal records, so a resumed crawl can cut it back there.
 */

import { gzipSync } from "node:zlib";
import { FILE_MODE } from "../workspace/files.ts";

/** A buffer this big is written out at once, whatever the timer says. */
export const FLUSH_BYTES = 1024 * 1024;

/** A growing work file. */
export class WorkFile {
  /** Rows as strings (in the JS heap: no native buffer per row), encoded once per write. */
  #rows: string[] = [];
  #pending = 0;
  #file: Deno.FsFile | undefined;
  /** Rows added in all (this run). */
  rows = 0;

  private constructor(readonly path: string, readonly gzip: boolean, public length: number) {}

  /**
   * Opens the work file at `path`, cut back to `length` (the journal's last word on it): bytes
   * after it belong to searches that were not finished.
   */
  static async open(path: string, gzip: boolean, length: number): Promise<WorkFile> {
    const work = new WorkFile(path, gzip, length);
    try {
      const size = (await Deno.stat(path)).size;
      if (size > length) await Deno.truncate(path, length);
      if (size < length) {
        throw new Error(
          `${path} is shorter (${size} bytes) than its journal says (${length}): the disk lost data it had confirmed`,
        );
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      if (length > 0) {
        throw new Error(`${path} is missing, but its journal says it held ${length} bytes`);
      }
    }
    return work;
  }

  /** Bytes waiting to be written. */
  get pending(): number {
    return this.#pending;
  }

  /** Adds one row (a JSON text, without its newline). */
  add(row: string): void {
    this.#rows.push(row);
    // Characters, not bytes: close enough to decide when to write.
    this.#pending += row.length + 1;
    this.rows++;
  }

  /**
   * Takes what is buffered (synchronously, so rows added meanwhile wait for the next write) and
   * appends it; returns the new length once it is on disk.
   */
  async write(): Promise<number> {
    if (this.#pending === 0) return this.length;
    const data = new TextEncoder().encode(this.#rows.join("\n") + "\n");
    this.#rows = [];
    this.#pending = 0;
    // Level 6 in one synchronous call: a few ms per MB, no stream stages per member.
    const bytes = this.gzip ? gzipSync(data, { level: 6 }) : data;
    this.#file ??= await Deno.open(this.path, { append: true, create: true, mode: FILE_MODE });
    let off = 0;
    while (off < bytes.length) off += await this.#file.write(bytes.subarray(off));
    await this.#file.syncData();
    this.length += bytes.length;
    return this.length;
  }

  /** Closes the file handle (the file stays). */
  close(): void {
    try {
      this.#file?.close();
    } catch {
      // Closed already.
    }
    this.#file = undefined;
  }
}
