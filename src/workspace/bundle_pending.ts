/**
 * The sources of a Bundle being made, noted before the Bundle is written and dropped once they
 * are all removed. A run killed after its Bundle was committed but before every source was
 * removed leaves the note beside the Bundle, and the rerun removes exactly the files it lists
 * (same name, same size): they are in the Bundle already. Without a note, an existing Bundle
 * means the remaining files were never bundled, and they are left alone.
 */

import { join } from "node:path";
import { writeFileAtomic } from "./files.ts";

/** The note's name: hidden, and not an NDJSON name, so no reader takes it for data. */
export const PENDING_NAME = ".bundle-sources.json";

interface Pending {
  /** The Bundle's file name. */
  bundle: string;
  files: { name: string; size: number }[];
}

/** Notes that `files` of `dir` (names) are going into the Bundle `bundle` (a file name). */
export async function notePending(dir: string, bundle: string, files: string[]): Promise<void> {
  const listed = [];
  for (const name of files) listed.push({ name, size: (await Deno.stat(join(dir, name))).size });
  const note: Pending = { bundle, files: listed };
  await writeFileAtomic(join(dir, PENDING_NAME), JSON.stringify(note) + "\n");
}

/** Drops the note (every source is removed). */
export async function clearPending(dir: string): Promise<void> {
  await Deno.remove(join(dir, PENDING_NAME)).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
}

/**
 * Finishes a run stopped after its Bundle `bundle` (a file name) was written: removes the sources
 * the note lists that are still there, unchanged, and drops the note. Returns the names removed,
 * or undefined when no note for that Bundle was there (nothing was interrupted).
 */
export async function finishPending(dir: string, bundle: string): Promise<string[] | undefined> {
  let note: Pending;
  try {
    note = JSON.parse(await Deno.readTextFile(join(dir, PENDING_NAME)));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  if (note.bundle !== bundle) return undefined;
  const removed: string[] = [];
  for (const { name, size } of note.files) {
    const info = await Deno.lstat(join(dir, name)).catch(() => undefined);
    if (!info?.isFile || info.size !== size) continue;
    await Deno.remove(join(dir, name));
    removed.push(name);
  }
  await clearPending(dir);
  return removed;
}
