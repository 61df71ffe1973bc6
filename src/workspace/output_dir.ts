/**
 * Checking an output folder before anything is sent to a server: it must be a folder (or not
 * exist yet, under a folder) that we can write to. Each problem is a usage error with one line
 * naming the path and what to do, instead of an `os error 20` after an export has started.
 */

import { dirname, join, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { FILE_MODE, tempPathFor } from "./files.ts";

async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    // A path through a file: reported by the caller, which walks up to find it.
    if (err instanceof Deno.errors.NotADirectory) return undefined;
    throw err;
  }
}

/** Whether we may create files in `dir` (tried for real: permissions, ACLs, read-only mounts). */
async function writable(dir: string): Promise<boolean> {
  try {
    // Named like every temporary file of ours, so a kill right here leaves nothing the next
    // run does not clean up.
    const probe = tempPathFor(join(dir, ".smart-fetch-probe"));
    const file = await Deno.open(probe, { write: true, createNew: true, mode: FILE_MODE });
    file.close();
    await Deno.remove(probe);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable) {
      return false;
    }
    if (err instanceof Error && /read-only|os error 30/i.test(err.message)) return false;
    throw err;
  }
}

/**
 * Checks `path` can be an output folder. Returns whether it exists already. Writes nothing that
 * stays (the write test removes its probe at once).
 */
export async function checkOutputDir(path: string): Promise<boolean> {
  const info = await statOrUndefined(path);
  if (info && !info.isDirectory) {
    throw new UsageError(
      `The output folder ${path} is a file, not a folder. Give the path of a folder (it is created if missing).`,
    );
  }
  let existing = resolve(path);
  if (!info) {
    // Walk up to the nearest part of the path that exists: it must be a folder.
    for (;;) {
      const parent = dirname(existing);
      const up = await statOrUndefined(parent);
      existing = parent;
      if (up) {
        if (!up.isDirectory) {
          throw new UsageError(
            `The output folder ${path} cannot be created: ${parent} is a file, not a folder.`,
          );
        }
        break;
      }
      if (parent === dirname(parent)) break;
    }
  }
  if (!(await writable(existing))) {
    throw new UsageError(
      `Cannot write to ${existing}${
        existing === resolve(path) ? "" : ` (to create ${path})`
      }: permission denied. Give an output folder you can write to.`,
    );
  }
  return info !== undefined;
}
