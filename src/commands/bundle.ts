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
import { exists } from "../workspace/files.ts";
import { FolderLock } from "../workspace/lock.ts";
import type { CommandContext } from "./bulk_run.ts";

/** The flags of `bundle`. */
export interface BundleFlags {
  /** False with `--no-compression`: write `Bundle.json`. */
  compression: boolean;
}

function summary(dir: string, result: BundleResult): string {
  return `Bundled ${
    result.resources.toLocaleString("en-US")
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
 * `--bundle` after a finished `bulk` or `crawl` export (the caller holds the folder's lock).
 * A rerun of a finished export whose files were already bundled says so instead of failing.
 */
export async function bundleAfterExport(
  dir: string,
  gzip: boolean,
  ctx: CommandContext,
): Promise<void> {
  const path = bundlePath(dir, gzip);
  if (await exists(path) && (await bundleSources(dir)).length === 0) {
    ctx.out(`The export is already bundled in ${path}.\n`);
    return;
  }
  const result = await bundleFolder(dir, {
    gzip,
    timestamp: isoLocalMicros(ctx.clock.now()),
    allowEmpty: true,
  });
  ctx.out(summary(dir, result));
}
