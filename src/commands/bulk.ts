/** `smart-fetch bulk OUTPUT_DIR`: one bulk export into a plain folder, resumable. */

import { join } from "node:path";
import { BulkExporter, type BulkSummary } from "../bulk/exporter.ts";
import type { ExportLevel } from "../bulk/kickoff.ts";
import { authKind } from "../auth/mod.ts";
import {
  checkSelection,
  checkTypes,
  describeSince,
  resolveRequest,
  type SelectionFlags,
} from "../cli/selection.ts";
import { looksLikeUrl } from "../cli/parsers.ts";
import type { Clock } from "../clock.ts";
import { ExitCode, SmartFetchError, UsageError } from "../errors.ts";
import type { HttpClient } from "../http/client.ts";
import { Messages, type Reporter } from "../log/events.ts";
import { ExportLog } from "../log/export_log.ts";
import { formatBytes } from "../log/time_format.ts";
import { ensureDir, removeStaleTemps } from "../workspace/files.ts";
import { FolderLock } from "../workspace/lock.ts";
import {
  type OutputMetadata,
  OutputMetadataStore,
  parseOutputMetadata,
  readMetadataJson,
} from "../workspace/metadata.ts";
import { checkSameRequest } from "../workspace/request_check.ts";
import { checkFhirUrl, openSession, type ServerFlags } from "./session.ts";

/** The flags of `bulk`. */
export interface BulkFlags extends ServerFlags, SelectionFlags {
  group?: string | undefined;
  patientLevel?: boolean | undefined;
  kickoff: "get" | "post";
  cancel?: boolean | undefined;
  compression: boolean;
  maxWait: number;
}

/** What a command needs from its caller. */
export interface CommandContext {
  clock: Clock;
  reporter: Reporter;
  /** Writes to standard output (results, not progress). */
  out: (text: string) => void;
  signal?: AbortSignal | undefined;
}

/** The export level from `--group` / `--patient-level`. */
export function levelOf(
  flags: { group?: string | undefined; patientLevel?: boolean | undefined },
): ExportLevel {
  if (flags.group !== undefined && flags.patientLevel) {
    throw new UsageError(
      "--group and --patient-level cannot be used together: a Group export is already patient-level.",
    );
  }
  if (flags.group !== undefined) {
    if (!flags.group.trim() || /[/?#\s]/.test(flags.group)) {
      throw new UsageError(
        `--group "${flags.group}" is not a Group id. Give the id only, such as --group 1234.`,
      );
    }
    return { kind: "group", id: flags.group };
  }
  return flags.patientLevel ? { kind: "patient" } : { kind: "system" };
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

  await ensureDir(dir);
  const lock = await FolderLock.acquire(dir, "bulk", ctx.clock.now());
  try {
    for (const sub of ["", "error", "deleted"]) await removeStaleTemps(join(dir, sub));
    const existing = await readOutputFolder(dir);
    const session = await openSession(flags, {
      clock: ctx.clock,
      reporter: ctx.reporter,
      signal: ctx.signal,
      bulk: true,
    });
    if (flags.cancel) return await cancel(dir, existing, session.http, ctx);

    const request = resolveRequest(flags, session.capabilities, say);
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
    const store = OutputMetadataStore.open(dir, existing ?? fresh, ctx.clock);
    if (!existing) await store.update(() => {});

    const missing = request.types.filter((t) => !(t in (store.current.done ?? {})));
    if (missing.length === 0 && !store.current.bulk) {
      return alreadyDone(dir, store.current, ctx);
    }
    if (request.since) say.info(describeSince(request));
    const log = await ExportLog.open(dir, ctx.clock);
    const summary = await new BulkExporter({
      http: session.http,
      dir,
      store,
      log,
      reporter: ctx.reporter,
      capabilities: session.capabilities,
      clock: ctx.clock,
      level,
      types: request.types,
      typeFilters: request.kickoffFilters,
      since: request.sinceMode === "updated" ? request.since : undefined,
      method: flags.kickoff === "post" ? "POST" : "GET",
      gzip: flags.compression,
      concurrency: flags.maxConnections,
      maxWaitMs: flags.maxWait,
    }).run();
    ctx.reporter.emit({ type: "phase", phase: "done" });
    return report(dir, summary, ctx);
  } finally {
    await lock.release();
  }
}

async function cancel(
  dir: string,
  existing: OutputMetadata | undefined,
  http: HttpClient,
  ctx: CommandContext,
): Promise<number> {
  const statusUrl = existing?.bulk?.statusUrl ?? existing?.["bulk-status"];
  if (!existing || !statusUrl) {
    throw new SmartFetchError(
      `No bulk export is in progress in ${dir}; there is nothing to cancel.`,
    );
  }
  await http.request(
    statusUrl,
    { method: "DELETE", acceptStatuses: [404, 410] },
    (res) => Promise.resolve(res.body?.cancel()),
  );
  const store = OutputMetadataStore.open(dir, existing, ctx.clock);
  await store.update((m) => {
    delete m.bulk;
    delete m["bulk-status"];
  });
  ctx.out(`Cancelled the bulk export ${statusUrl}. Files already downloaded stay in ${dir}.\n`);
  return ExitCode.Ok;
}

function alreadyDone(dir: string, metadata: OutputMetadata, ctx: CommandContext): number {
  const errors = metadata.serverErrors ?? 0;
  ctx.out(`Everything requested is already exported in ${dir}; nothing to do.\n`);
  if (errors) {
    ctx.out(
      `The server reported ${errors} error(s) during that export; they are in ${
        join(dir, "error")
      }.\n`,
    );
    return ExitCode.ServerErrors;
  }
  return ExitCode.Ok;
}

function report(dir: string, summary: BulkSummary, ctx: CommandContext): number {
  const d = summary.downloaded;
  const had = summary.alreadyHad ? `; ${summary.alreadyHad} file(s) were already downloaded` : "";
  ctx.out(
    `Bulk export complete in ${dir}: downloaded ${d.files} file(s), ${
      d.resources.toLocaleString("en-US")
    } resources, ${formatBytes(d.bytes)} (${formatBytes(d.diskBytes)} on disk)${had}.\n`,
  );
  const { errors, messages } = summary.server;
  if (messages.length) {
    ctx.out(`Messages from the server:\n${messages.slice(0, 20).map((m) => ` - ${m}\n`).join("")}`);
  }
  if (errors.length) {
    ctx.out(
      `The server reported ${errors.length} error(s), kept in ${join(dir, "error")}:\n${
        errors.slice(0, 20).map((m) => ` - ${m}\n`).join("")
      }${errors.length > 20 ? ` - ... and ${errors.length - 20} more\n` : ""}`,
    );
    return ExitCode.ServerErrors;
  }
  return ExitCode.Ok;
}
