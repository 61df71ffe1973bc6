/**
 * `smart-fetch bundle DIR`: merge a folder's NDJSON files into one `Bundle.json[.gz]` and
 * remove them; also what `bulk --bundle` and `crawl --bundle` run after their export.
 */

import { looksLikeUrl } from "../cli/parsers.ts";
import { ExitCode, UsageError } from "../errors.ts";
import { isoLocalMicros } from "../log/time_format.ts";
import {
  bundleFolder,
  bundlePath,
  type BundleResult,
  bundleSources,
} from "../workspace/bundle_file.ts";
import { clearPending } from "../workspace/bundle_pending.ts";
import { exists, removeStaleTemps } from "../workspace/files.ts";
import { FolderLock } from "../workspace/lock.ts";
import type { CommandContext } from "./bulk_run.ts";

/** The flags of `bundle`. */
export interface BundleFlags {
  /** False with `--no-compression`: write `Bundle.json`. */
  compression: boolean;
}

function summary(dir: string, result: BundleResult): string {
  if (result.finished) {
    return `Finished an interrupted bundle of ${dir}: ${result.path} was written already; removed the ${result.files.length} source file(s) still there.\n`;
  }
  return `Bundled ${
    (result.resources ?? 0).toLocaleString("en-US")
  } resources from ${result.files.length} file(s) in ${dir} into ${result.path}, and removed those files.\n`;
}

/** Runs `bundle`. Returns the exit code. */
export async function runBundle(
  dir: string | undefined,
  flags: BundleFlags,
  ctx: CommandContext,
): Promise<number> {
  if (!dir) {
    throw new UsageError("Give the folder to bundle, for example: smart-fetch bundle ./out");
  }
  if (looksLikeUrl(dir)) {
    throw new UsageError(`Expected a local folder, but '${dir}' looks like a URL.`);
  }
  const isFolder = (await Deno.stat(dir).catch(() => undefined))?.isDirectory ?? false;
  // Not while an export is writing the folder: its files are not all there yet.
  const lock = isFolder ? await FolderLock.acquire(dir, "bundle", ctx.clock.now()) : undefined;
  try {
    const result = await bundleFolder(dir, {
      gzip: flags.compression,
      timestamp: isoLocalMicros(ctx.clock.now()),
    });
    ctx.out(summary(dir, result));
    return ExitCode.Ok;
  } finally {
    await lock?.release();
  }
}

/**
 * True (and says so) when `dir` holds its Bundle and no source file: bundled already, by an
 * earlier run or by one killed once it had removed them all. (`bundle` itself refuses a second
 * run, as SMART Fetch does; a rerun of an export with `--bundle` is a no-op.)
 */
async function alreadyBundled(dir: string, gzip: boolean, ctx: CommandContext): Promise<boolean> {
  const path = bundlePath(dir, gzip);
  if (!(await exists(path)) || (await bundleSources(dir)).length > 0) return false;
  await clearPending(dir);
  await removeStaleTemps(dir);
  ctx.out(`The folder is already bundled in ${path}.\n`);
  return true;
}

/**
 * `--bundle` after a finished `bulk` or `crawl` export (the caller holds the folder's lock).
 * A rerun of a finished export whose files were already bundled says so instead of failing.
 */
export async function bundleAfterExport(
  dir: string,
  gzip: boolean,
  ctx: CommandContext,
): Promise<void> {
  if (await alreadyBundled(dir, gzip, ctx)) return;
  const result = await bundleFolder(dir, {
    gzip,
    timestamp: isoLocalMicros(ctx.clock.now()),
    allowEmpty: true,
  });
  ctx.out(summary(dir, result));
}
