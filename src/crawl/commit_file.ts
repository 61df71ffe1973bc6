/**
 * Turning a finished crawl work file into the data file readers see: rows with an id seen
 * before are dropped (a resource returned for two searches, or fetched again after a kill),
 * the rest is written to one plain gzip stream under a temporary name and renamed into place.
 * Memory stays small: 8 bytes per row for a hash index, and exact ids only for the rare hashes
 * that repeat.
 */

import { IdIndex } from "../workspace/id_index.ts";
import { hashId } from "../workspace/id_index.ts";
import { readLines } from "../workspace/ndjson_reader.ts";
import { AtomicFileWriter } from "../workspace/ndjson_writer.ts";

/** The id of a resource row, read fast when it comes first (as servers write it). */
const LEADING_ID = /^\{\s*"resourceType"\s*:\s*"[A-Za-z]+"\s*,\s*"id"\s*:\s*"([^"\\]+)"/;

function idOf(line: string): string | undefined {
  const m = LEADING_ID.exec(line);
  if (m) return m[1]!;
  try {
    const id = JSON.parse(line)?.id;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/** What a committed file holds. */
export interface CommittedFile {
  resources: number;
  /** NDJSON bytes written. */
  bytes: number;
  duplicates: number;
}

/**
 * Writes `work` (gzip members or plain, per `gzip`) to `final` without duplicate ids. Two
 * passes: the first finds hashes that repeat; the second keeps the first row of each id.
 */
export async function commitWithoutDuplicates(
  work: string,
  final: string,
  gzip: boolean,
): Promise<CommittedFile> {
  const index = new IdIndex();
  for await (const line of readLines(work, { gzip })) {
    const id = idOf(line);
    if (id !== undefined) index.add(id);
  }
  const repeated = index.repeatedHashes();
  const seen = new Set<string>();
  const writer = await AtomicFileWriter.create(final, { gzip });
  const out = writer.out;
  const encoder = new TextEncoder();
  const result: CommittedFile = { resources: 0, bytes: 0, duplicates: 0 };
  try {
    for await (const line of readLines(work, { gzip })) {
      const id = idOf(line);
      if (id !== undefined && repeated.has(hashId(id))) {
        if (seen.has(id)) {
          result.duplicates++;
          continue;
        }
        seen.add(id);
      }
      const bytes = encoder.encode(line + "\n");
      await out.write(bytes);
      result.resources++;
      result.bytes += bytes.length;
    }
    await out.close();
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return result;
}
