/** `smart-fetch bulk OUTPUT_DIR`: one bulk export into a plain folder, resumable. */

import { join } from "node:path";
import { authKind } from "../auth/mod.ts";
import {
  checkSelection,
  checkTypes,
  describeSince,
  resolveRequest,
  type SelectionFlags,
  withSince,
} from "../cli/selection.ts";
import { looksLikeUrl } from "../cli/parsers.ts";
import { ExitCode, UsageError } from "../errors.ts";
import type { HttpClient } from "../http/client.ts";
import { Messages } from "../log/events.ts";
import { ExportLog } from "../log/export_log.ts";
import { isoLocalMicros } from "../log/time_format.ts";
import { checkOutputDir } from "../workspace/output_dir.ts";
import {
  type OutputMetadata,
  OutputMetadataStore,
  parseOutputMetadata,
  readMetadataJson,
} from "../workspace/metadata.ts";
import { checkSameRequest } from "../workspace/request_check.ts";
import {
  type BulkRunFlags,
  cleanFolder,
  type CommandContext,
  exitCodeFor,
  levelOf,
  PlainFolderLock,
  reportSummary,
  runBulkExport,
} from "./bulk_run.ts";
import { bundleAfterExport } from "./bundle.ts";
import { checkFhirUrl, openSession, type ServerFlags } from "./session.ts";

/** The flags of `bulk`. */
export interface BulkFlags extends ServerFlags, SelectionFlags, BulkRunFlags {
  group?: string | undefined;
  patientLevel?: boolean | undefined;
  cancel?: boolean | undefined;
  /** Merge the finished export into one Bundle file (`bundle`). */
  bundle?: boolean | undefined;
}

/** Reads a plain output folder's metadata; refuses a managed folder. */
async function readOutputFolder(dir: string): Promise<OutputMetadata | undefined> {
  const json = await readMetadataJson(dir);
  if (!json) return undefined;
  if (json["kind"] === "managed") {
    throw new UsageError(
      `Folder ${dir} is a managed export folder, not an output folder. Use "smart-fetch export ${dir}" for it, or give bulk another folder.`,
    );
  }
  return parseOutputMetadata(json, dir);
}

/** Runs `bulk`. Returns the exit code. */
export async function runBulk(
  dir: string | undefined,
  flags: BulkFlags,
  ctx: CommandContext,
): Promise<number> {
  if (checkTypes(flags.type, ctx.out) === "help") return ExitCode.Ok;
  if (!dir) {
    throw new UsageError(
      "Give the output folder, for example: smart-fetch bulk --fhir-url URL ./out",
    );
  }
  checkFhirUrl(flags.fhirUrl);
  if (looksLikeUrl(dir)) {
    throw new UsageError(
      `Expected a local folder, but "${dir}" looks like a URL. Give the server with --fhir-url.`,
    );
  }
  if (flags.since === "auto") {
    throw new UsageError(
      `bulk does not support --since auto (it has no earlier exports to look at); use "smart-fetch export", or give a time.`,
    );
  }
  const level = levelOf(flags);
  checkSelection(flags);
  authKind(flags);
  const say = new Messages(ctx.reporter);

  // A folder that does not exist yet is created only once the server accepts the export.
  const existed = await checkOutputDir(dir);
  const lock = await PlainFolderLock.open(dir, "bulk", ctx.clock, existed);
  try {
    if (existed) await cleanFolder(dir);
    const existing = existed ? await readOutputFolder(dir) : undefined;
    if (flags.cancel && !(existing?.bulk?.statusUrl ?? existing?.["bulk-status"])) {
      ctx.out(`No bulk export is in progress in ${dir}; there is nothing to cancel.\n`);
      return ExitCode.Ok;
    }
    const session = await openSession(flags, {
      clock: ctx.clock,
      reporter: ctx.reporter,
      signal: ctx.signal,
      bulk: true,
    });
    if (flags.cancel) return await cancel(dir, existing!, session.http, ctx);

    const request = withSince(
      resolveRequest(flags, session.capabilities, say),
      flags.since,
      session.capabilities,
    );
    const group = level.kind === "group" ? level.id : null;
    const fresh = OutputMetadataStore.fresh({
      filters: request.filters,
      since: request.since ?? null,
      ...(request.sinceMode
        ? { sinceMode: request.sinceMode, sinceResources: request.sinceTypes }
        : {}),
      "fhir-url": session.http.baseUrl,
      group,
      mode: "bulk",
    }, ctx.clock);
    if (existing) checkSameRequest(dir, existing, fresh);
    const store = OutputMetadataStore.open(dir, existing ?? fresh, ctx.clock, {
      bound: existing !== undefined,
    });
    const log = existing ? await ExportLog.open(dir, ctx.clock) : ExportLog.pending(dir, ctx.clock);

    const missing = request.types.filter((t) => !(t in (store.current.done ?? {})));
    if (missing.length === 0 && !store.current.bulk) {
      return await bundled(dir, flags, ctx, alreadyDone(dir, store.current, ctx));
    }
    if (request.since) say.info(describeSince(request));
    const summary = await runBulkExport({
      dir,
      store,
      log,
      // Bind late: the folder, its lock, log and .metadata appear once the server said yes.
      bind: () => lock.bind(log, store),
      request,
      since: request.since,
      level,
      flags,
      session,
      ctx,
    });
    ctx.reporter.emit({ type: "phase", phase: "done" });
    return await bundled(dir, flags, ctx, reportSummary(dir, summary, ctx, "Bulk export"));
  } finally {
    await lock.release();
  }
}

/** With `--bundle`, bundles a finished export (exit code 0, or 3: done with server errors). */
async function bundled(
  dir: string,
  flags: BulkFlags,
  ctx: CommandContext,
  code: number,
): Promise<number> {
  if (flags.bundle && (code === ExitCode.Ok || code === ExitCode.ServerErrors)) {
    await bundleAfterExport(dir, flags.compression, ctx);
  }
  return code;
}

async function cancel(
  dir: string,
  existing: OutputMetadata,
  http: HttpClient,
  ctx: CommandContext,
): Promise<number> {
  const statusUrl = (existing.bulk?.statusUrl ?? existing["bulk-status"])!;
  await http.request(
    statusUrl,
    { method: "DELETE", acceptStatuses: [404, 410] },
    (res) => Promise.resolve(res.body?.cancel()),
  );
  const store = OutputMetadataStore.open(dir, existing, ctx.clock);
  await store.update((m) => {
    delete m.bulk;
    delete m["bulk-status"];
    m.cancelled = isoLocalMicros(ctx.clock.now());
  });
  ctx.out(`Cancelled the bulk export ${statusUrl}. Files already downloaded stay in ${dir}.\n`);
  return ExitCode.Ok;
}

function alreadyDone(dir: string, metadata: OutputMetadata, ctx: CommandContext): number {
  ctx.out(`Everything requested is already exported in ${dir}; nothing to do.\n`);
  if (metadata.serverErrors) {
    ctx.out(
      `The server reported ${metadata.serverErrors} error(s) during that export; they are in ${
        join(dir, "error")
      }.\n`,
    );
  }
  return exitCodeFor(metadata);
}
