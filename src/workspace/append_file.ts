/** Appending a work file's rows to a final NDJSON file, in one atomic rewrite. */

import { exists } from "./files.ts";
import { readLines } from "./ndjson_reader.ts";
import { AtomicFileWriter } from "./ndjson_writer.ts";

/**
 * Rewrites `final` (gzip when `gzip`) as its own rows, if it exists, followed by the rows of
 * `work` (gzip when `workGzip`), under a temporary name renamed into place: a reader sees the old
 * file or the whole new one.
 */
export async function appendAtomically(
  final: string,
  work: string,
  gzip: boolean,
  workGzip: boolean,
): Promise<void> {
  const writer = await AtomicFileWriter.create(final, { gzip });
  const out = writer.out;
  const encoder = new TextEncoder();
  try {
    if (await exists(final)) {
      for await (const line of readLines(final)) await out.write(encoder.encode(line + "\n"));
    }
    for await (const line of readLines(work, { gzip: workGzip })) {
      await out.write(encoder.encode(line + "\n"));
    }
    await out.close();
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
