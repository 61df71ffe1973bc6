/** `smart-fetch verify DIR...`: checks, offline, that export folders are whole and that Cumulus ETL reads them right. */

import { ExitCode, UsageError } from "../errors.ts";
import { Messages } from "../log/events.ts";
import { readFolderKind } from "../workspace/managed.ts";
import { CheckPool } from "../verify/check_pool.ts";
import { FileChecks } from "../verify/export_check.ts";
import { checkFolder, type FolderResult } from "../verify/folder_check.ts";
import { jsonReport, textReport } from "../verify/report.ts";
import type { CommandContext } from "./bulk_run.ts";

/** The flags of `verify`. */
export interface VerifyFlags {
  /** Print one JSON document instead of lines. */
  json?: boolean | undefined;
}

/** A folder to verify must exist and be smart-fetch's (managed or plain output). */
async function checkArgument(dir: string): Promise<void> {
  const info = await Deno.stat(dir).catch(() => undefined);
  if (!info) throw new UsageError(`Folder '${dir}' does not exist.`);
  if (!info.isDirectory) throw new UsageError(`'${dir}' is a file, not an export folder.`);
  if ((await readFolderKind(dir)).kind === "none") {
    throw new UsageError(
      `'${dir}' is not an export folder: it has no smart-fetch .metadata (give a folder made by export, bulk or crawl).`,
    );
  }
}

/** Runs `verify`: 0 when every folder is whole, 1 when problems were found. */
export async function runVerify(
  dirs: string[],
  flags: VerifyFlags,
  ctx: CommandContext,
): Promise<number> {
  if (dirs.length === 0) {
    throw new UsageError(
      "Give one or more export folders, for example: smart-fetch verify /output/root/cohort1",
    );
  }
  const paths = [...new Set(dirs)];
  for (const dir of paths) await checkArgument(dir);
  const pool = await CheckPool.open();
  new Messages(ctx.reporter).verbose(
    pool.parallel
      ? `Checking files in ${pool.size} workers.`
      : "Checking files in this thread (no workers could start).",
  );
  const results: FolderResult[] = [];
  try {
    const checks = new FileChecks(pool);
    for (const dir of paths) results.push(await checkFolder(dir, checks));
  } finally {
    pool.close();
  }
  ctx.out(flags.json ? jsonReport(results) : textReport(results));
  return results.every((r) => r.ok) ? ExitCode.Ok : ExitCode.Failure;
}
