/** `smart-fetch reset-symlinks OUTPUT_DIR`: rebuild a managed folder's top-level links. */

import { ExitCode, UsageError } from "../errors.ts";
import { FolderLock } from "../workspace/lock.ts";
import { listSubfolders, readFolderKind } from "../workspace/managed.ts";
import { rebuildSymlinks } from "../workspace/symlinks.ts";
import type { CommandContext } from "./bulk_run.ts";

/** Runs `reset-symlinks`. Refuses a folder that is not managed. */
export async function runResetSymlinks(
  dir: string | undefined,
  ctx: CommandContext,
): Promise<number> {
  if (!dir) {
    throw new UsageError(
      "Give the managed folder, for example: smart-fetch reset-symlinks ./cohort1",
    );
  }
  const info = await Deno.stat(dir).catch(() => undefined);
  if (!info) throw new UsageError(`Folder '${dir}' does not exist.`);
  if (!info.isDirectory) throw new UsageError(`'${dir}' is a file, not a managed export folder.`);
  const kind = await readFolderKind(dir);
  if (kind.kind !== "managed") {
    throw new UsageError(`Folder '${dir}' does not look like a SMART Fetch managed export folder.`);
  }
  const lock = await FolderLock.acquire(dir, "reset-symlinks", ctx.clock.now());
  try {
    const links = await rebuildSymlinks(dir, await listSubfolders(dir));
    ctx.out(`Rebuilt the links in ${dir}: ${links} link(s) to the active files.\n`);
    return ExitCode.Ok;
  } finally {
    await lock.release();
  }
}
