/** Local file names for manifest entries, stable across resumes. */

import { join } from "node:path";
import type { BulkFile } from "../workspace/metadata.ts";
import type { ManifestEntry } from "./manifest.ts";

/** `Condition.001.ndjson.gz`, `error/OperationOutcome.001.ndjson.gz`, `deleted/Bundle.001.ndjson`. */
export function localName(
  entry: Pick<ManifestEntry, "itemType" | "type">,
  n: number,
  gzip: boolean,
): string {
  const base = `${entry.type}.${String(n).padStart(3, "0")}.ndjson${gzip ? ".gz" : ""}`;
  return entry.itemType === "output" ? base : `${entry.itemType}/${base}`;
}

const NUMBERED = /^([A-Za-z]+)\.(\d+)\.ndjson(\.gz)?$/;

async function highestOnDisk(dir: string, sub: string, into: Map<string, number>): Promise<void> {
  try {
    for await (const entry of Deno.readDir(join(dir, sub))) {
      const m = NUMBERED.exec(entry.name);
      if (!m) continue;
      const key = `${sub || "output"}|${m[1]}`;
      into.set(key, Math.max(into.get(key) ?? 0, Number(m[2])));
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/**
 * Gives every manifest entry its local file. Entries are matched to the ones saved from an
 * earlier poll of the same export by position within their (itemType, type), which survives
 * signed URLs that change at every poll; new entries get the next free number for their type,
 * never reusing a name already on disk or in the saved list.
 */
export async function assignNames(
  dir: string,
  entries: readonly ManifestEntry[],
  saved: readonly BulkFile[],
  gzip: boolean,
): Promise<BulkFile[]> {
  const savedByKey = new Map<string, BulkFile[]>();
  for (const file of saved) {
    const key = `${file.itemType}|${file.type}`;
    savedByKey.set(key, [...(savedByKey.get(key) ?? []), file]);
  }
  const next = new Map<string, number>();
  await highestOnDisk(dir, "", next);
  await highestOnDisk(dir, "error", next);
  await highestOnDisk(dir, "deleted", next);
  for (const file of saved) {
    const m = NUMBERED.exec(file.name.split("/").pop()!);
    if (!m) continue;
    const key = `${file.itemType}|${file.type}`;
    next.set(key, Math.max(next.get(key) ?? 0, Number(m[2])));
  }
  const seen = new Map<string, number>();
  return entries.map((entry) => {
    const key = `${entry.itemType}|${entry.type}`;
    const ordinal = seen.get(key) ?? 0;
    seen.set(key, ordinal + 1);
    const match = savedByKey.get(key)?.[ordinal];
    const count = entry.count === undefined ? {} : { count: entry.count };
    if (match) return { ...match, url: entry.url, ...count };
    const n = (next.get(key) ?? 0) + 1;
    next.set(key, n);
    return {
      itemType: entry.itemType,
      type: entry.type,
      name: localName(entry, n, gzip),
      url: entry.url,
      ...count,
    };
  });
}
