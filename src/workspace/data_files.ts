/** Finding a folder's data files by resource type, and reading resource ids fast. */

import { join } from "node:path";
import { ALL_KNOWN_TYPES } from "../fhir/resource_types.ts";
import { readLines } from "./ndjson_reader.ts";

const NAME_TYPES = new Set([...ALL_KNOWN_TYPES, "Bundle", "OperationOutcome"]);

/**
 * The resource type a file name declares, the way Cumulus ETL reads names: split on every run
 * of non-letters; exactly one piece must be a type name (`Observation.results.ndjson.gz`).
 */
export function typeOfFileName(name: string): string | undefined {
  const found = name.split(/[^A-Za-z]+/).filter((piece) => NAME_TYPES.has(piece));
  return found.length === 1 ? found[0] : undefined;
}

/** True for a finished NDJSON data file name (not the log, not a temporary file). */
export function isDataFileName(name: string): boolean {
  return /\.ndjson(\.gz)?$/.test(name) && name !== "log.ndjson";
}

/**
 * The data files at the top of `folder` holding `type` (by name), sorted by name. Links to files
 * count (a managed folder's top level links to its active files).
 */
export async function dataFilesOf(folder: string, type: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (!isDataFileName(entry.name) || typeOfFileName(entry.name) !== type) continue;
      if (entry.isFile) out.push(entry.name);
      else if (entry.isSymlink) {
        const target = await Deno.stat(join(folder, entry.name)).catch(() => undefined);
        if (target?.isFile) out.push(entry.name);
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort();
}

/** Servers write `resourceType` then `id` first; this reads such an id without parsing JSON. */
const LEADING_ID = /^\{\s*"resourceType"\s*:\s*"[A-Za-z]+"\s*,\s*"id"\s*:\s*"([^"\\]+)"/;

/** The resource ids in an NDJSON file (fast path for the usual key order, JSON otherwise). */
export async function* readIds(path: string): AsyncGenerator<string> {
  for await (const line of readLines(path)) {
    const m = LEADING_ID.exec(line);
    if (m) {
      yield m[1]!;
      continue;
    }
    try {
      const id = JSON.parse(line)?.id;
      if (typeof id === "string") yield id;
    } catch {
      // Not a resource line; Cumulus ETL skips it too.
    }
  }
}

/** The ids of `type` in the data files of `folder`. */
export async function* idsInFolder(folder: string, type: string): AsyncGenerator<string> {
  for (const name of await dataFilesOf(folder, type)) yield* readIds(join(folder, name));
}
