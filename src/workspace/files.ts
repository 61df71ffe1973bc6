/**
 * File-system rules for everything we write: PHI is never world-readable, and every write goes
 * to a temporary name that does not end in `.ndjson`/`.ndjson.gz` and is renamed when complete.
 */

import { basename, dirname, join } from "node:path";

/** Mode for files we create (the user's umask may remove more). */
export const FILE_MODE = 0o640;
/** Mode for folders we create. */
export const DIR_MODE = 0o750;

/** Suffix of every temporary file: Cumulus ETL and other readers ignore it. */
export const TEMP_SUFFIX = ".part";
const TEMP_PATTERN = /\.[0-9a-f]{8}\.part$/;

/** A fresh temporary name next to `finalPath` (`<final>.<8 hex>.part`). */
export function tempPathFor(finalPath: string): string {
  const rand = crypto.getRandomValues(new Uint8Array(4));
  const hex = Array.from(rand, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${finalPath}.${hex}${TEMP_SUFFIX}`;
}

/** Creates a folder (and parents) with {@linkcode DIR_MODE}. */
export async function ensureDir(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode: DIR_MODE });
}

/** True when a path exists (file, folder or link). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Writes every byte of `data` to `file` (a single write may be partial). */
export async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await file.write(data.subarray(offset));
}

/** Flushes a folder's entry table, so a rename survives a power cut (best effort). */
async function syncDir(path: string): Promise<void> {
  try {
    const dir = await Deno.open(path, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  } catch {
    // Not every platform lets us open a folder; the rename is still atomic.
  }
}

/**
 * Writes a whole file atomically: temporary file, fsync, rename (a reader sees the old file or
 * the new one). `durable: false` skips the fsyncs, for caches a power cut may lose.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { durable?: boolean } = {},
): Promise<void> {
  const durable = options.durable ?? true;
  const temp = tempPathFor(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = await Deno.open(temp, { write: true, createNew: true, mode: FILE_MODE });
  try {
    await writeAll(file, bytes);
    // A cache entry need not survive a power cut (it is fetched again): no fsync for it.
    if (durable) await file.sync();
  } catch (err) {
    file.close();
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
  file.close();
  await Deno.rename(temp, path);
  if (durable) await syncDir(dirname(path));
}

/** Moves a finished temporary file into place and makes the rename durable. */
export async function commitTemp(temp: string, path: string): Promise<void> {
  await Deno.rename(temp, path);
  await syncDir(dirname(path));
}

/** Removes temporary files a killed run left in `dir` (not recursive). Returns how many. */
export async function removeStaleTemps(dir: string): Promise<number> {
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      // Symlinks too: a new top-level link is made under a temporary name, then renamed.
      if ((entry.isFile || entry.isSymlink) && TEMP_PATTERN.test(entry.name)) {
        await Deno.remove(join(dir, entry.name)).catch(() => {});
        removed++;
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return removed;
}

/** True when `name` is a temporary file of ours. */
export function isTempName(name: string): boolean {
  return TEMP_PATTERN.test(basename(name));
}
