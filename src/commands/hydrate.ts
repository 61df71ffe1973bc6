/**
 * `smart-fetch hydrate OUTPUT_DIR --tasks <groups>` and `smart-fetch inline DIR`: download
 * clinical notes into the NDJSON and fetch the resources the data only references, in any folder
 * of NDJSON (ours or another tool's).
 */

import { InvalidArgumentError } from "commander";
import { authKind } from "../auth/mod.ts";
import { looksLikeUrl } from "../cli/parsers.ts";
import { ExitCode, SmartFetchError, UsageError } from "../errors.ts";
import { hydrationTable, runHydration } from "../hydrate/hydrate_run.ts";
import { removeStaleTemps } from "../workspace/files.ts";
import { FolderLock } from "../workspace/lock.ts";
import type { CommandContext } from "./bulk_run.ts";
import { checkHydrationTasks, hydrationHelp, wantsHelp } from "./hydration_tasks.ts";
import { checkFhirUrl, openSession, type ServerFlags } from "./session.ts";

/** The default mimetypes inlined: text notes (Cumulus ETL's NLP reads these). */
export const DEFAULT_MIMETYPES = "text/plain,text/html,application/xhtml+xml";

/** The flags of `hydrate` (and `inline`). */
export interface HydrateFlags extends ServerFlags {
  tasks?: string | undefined;
  sourceDir?: string | undefined;
  mimetypes?: string | undefined;
  maxAttachmentSize: number;
  compression: boolean;
}

/** A size such as `50MB`, `512k`, `1g` (a bare number is bytes), in bytes. */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError("Expected a size such as 50MB, 512KB or 1GB.");
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()]!;
  return Math.round(Number(m[1]) * unit);
}

/** The mimetypes to inline, lower-case. */
export function mimetypesOf(value: string | undefined): Set<string> {
  const list = (value ?? DEFAULT_MIMETYPES).split(",").map((m) => m.trim().toLowerCase()).filter(
    Boolean,
  );
  for (const m of list) {
    if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(m)) {
      throw new UsageError(`--mimetypes: "${m}" is not a mimetype such as text/plain.`);
    }
  }
  return new Set(list);
}

async function checkFolder(dir: string | undefined, command: string): Promise<string> {
  if (!dir) {
    throw new UsageError(
      `Give the folder, for example: smart-fetch ${command} --fhir-url URL ./out`,
    );
  }
  if (looksLikeUrl(dir)) {
    throw new UsageError(
      `Expected a local folder, but "${dir}" looks like a URL. Give the server with --fhir-url.`,
    );
  }
  const info = await Deno.stat(dir).catch(() => undefined);
  if (!info?.isDirectory) throw new UsageError(`Local folder '${dir}' does not exist.`);
  return dir;
}

/** Runs `hydrate` (and `inline`, with `groups` fixed). Returns the exit code. */
export async function runHydrate(
  dirArg: string | undefined,
  flags: HydrateFlags,
  ctx: CommandContext,
  fixedGroups?: string[],
): Promise<number> {
  const command = fixedGroups ? "inline" : "hydrate";
  if (!fixedGroups && wantsHelp(flags.tasks)) {
    ctx.out(hydrationHelp());
    return ExitCode.Ok;
  }
  const groups = fixedGroups ?? checkHydrationTasks(flags.tasks, "--tasks");
  const dir = await checkFolder(dirArg, command);
  checkFhirUrl(flags.fhirUrl);
  authKind(flags);
  const mimetypes = mimetypesOf(flags.mimetypes);
  if (flags.sourceDir !== undefined) {
    if (groups.includes("inline") && groups.length === 1) {
      throw new UsageError("--source-dir does not apply to inline, which rewrites files in place.");
    }
    await checkFolder(flags.sourceDir, command);
  }
  const lock = await FolderLock.acquire(dir, command, ctx.clock.now());
  try {
    await removeStaleTemps(dir);
    const session = await openSession(flags, {
      clock: ctx.clock,
      reporter: ctx.reporter,
      signal: ctx.signal,
      bulk: false,
    });
    const result = await runHydration({
      dir,
      ...(flags.sourceDir ? { sourceDir: flags.sourceDir } : {}),
      http: session.http,
      gzip: flags.compression,
      concurrency: flags.maxConnections,
      reporter: ctx.reporter,
      groups,
      mimetypes,
      maxAttachmentBytes: flags.maxAttachmentSize,
    });
    ctx.reporter.emit({ type: "phase", phase: "done" });
    ctx.out(hydrationTable(result));
    if (result.transient) {
      throw new SmartFetchError(
        `${result.transient} download(s) failed after retries (see error/); rerun the same command to retry them.`,
      );
    }
    if (result.failed) {
      ctx.out(`${result.failed} attachment(s) or reference(s) could not be fetched; see error/.\n`);
    }
    return ExitCode.Ok;
  } finally {
    await lock.release();
  }
}
