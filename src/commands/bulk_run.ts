/** Running a bulk export into one output folder, shared by `bulk` and `export`. */

import { join } from "node:path";
import { BulkExporter, type BulkSummary } from "../bulk/exporter.ts";
import type { ExportLevel } from "../bulk/kickoff.ts";
import type { ExportRequest } from "../cli/selection.ts";
import type { Clock } from "../clock.ts";
import { ExitCode, SmartFetchError, UsageError } from "../errors.ts";
import { sinceInstant } from "../fhir/since.ts";
import type { Reporter } from "../log/events.ts";
import type { ExportLog } from "../log/export_log.ts";
import { formatBytes, isoLocalMicros } from "../log/time_format.ts";
import { ensureDir, removeStaleTemps } from "../workspace/files.ts";
import { FolderLock } from "../workspace/lock.ts";
import type { OutputMetadata, OutputMetadataStore } from "../workspace/metadata.ts";
import type { Session } from "./session.ts";

/** What a command needs from its caller. */
export interface CommandContext {
  clock: Clock;
  reporter: Reporter;
  /** Writes to standard output (results, not progress). */
  out: (text: string) => void;
  /** Writes raw bytes to standard output (`single --binary`), when the caller can take them. */
  outBytes?: ((bytes: Uint8Array) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** The flags that shape a bulk run. */
export interface BulkRunFlags {
  kickoff: "get" | "post";
  compression: boolean;
  maxConnections: number;
  maxWait: number;
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

/** Removes temporary files a killed run left in an output folder. */
export async function cleanFolder(dir: string): Promise<void> {
  for (const sub of ["", "error", "deleted"]) await removeStaleTemps(join(dir, sub));
}

/** Options for {@linkcode runBulkExport}. */
export interface BulkRunOptions {
  dir: string;
  store: OutputMetadataStore;
  /** The folder's log (pending when the folder is not written yet). */
  log: ExportLog;
  /** Writes the folder once the server accepted the kick-off (see BulkExportOptions.bind). */
  bind?: () => Promise<void>;
  request: ExportRequest;
  /** The `_since` to send in updated mode (already resolved for `--since auto`). */
  since: string | undefined;
  level: ExportLevel;
  flags: BulkRunFlags;
  session: Session;
  ctx: CommandContext;
}

/**
 * Runs (or resumes) the bulk export of one folder. A failure is recorded in the folder's
 * `.metadata` (`lastError`, for `status`) before it propagates; success clears it.
 */
export async function runBulkExport(options: BulkRunOptions): Promise<BulkSummary> {
  const { dir, store, request, session, ctx, flags, log } = options;
  // A run that starts is no longer failed: if it is killed, status says "interrupted".
  if (store.current.lastError) {
    await store.update((m) => {
      delete m.lastError;
    });
  }
  const stopWatching = watchReachability(session, store, ctx.clock);
  try {
    const summary = await new BulkExporter({
      http: session.http,
      dir,
      store,
      log,
      reporter: ctx.reporter,
      capabilities: session.capabilities,
      clock: ctx.clock,
      level: options.level,
      types: request.types,
      typeFilters: request.kickoffFilters,
      since: request.sinceMode === "updated" && options.since
        ? sinceInstant(options.since)
        : undefined,
      method: flags.kickoff === "post" ? "POST" : "GET",
      gzip: flags.compression,
      concurrency: flags.maxConnections,
      maxWaitMs: flags.maxWait,
      ...(options.bind ? { bind: options.bind } : {}),
    }).run();
    return summary;
  } catch (err) {
    if (err instanceof SmartFetchError || err instanceof Error) {
      await store.update((m) => {
        m.lastError = {
          message: err.message.split("\n")[0]!,
          time: isoLocalMicros(ctx.clock.now()),
        };
      }).catch(() => {});
    }
    throw err;
  } finally {
    stopWatching();
  }
}

/**
 * Records in `.metadata` that the server stopped answering (at most every 30 s), so `status`
 * can say so, and clears it once the server answers again. Returns the unsubscribe.
 */
function watchReachability(
  session: Session,
  store: OutputMetadataStore,
  clock: Clock,
): () => void {
  let lastSave = -Infinity;
  return session.http.listen((event) => {
    if (event.type === "unreachable") {
      if (clock.now() - lastSave < 30_000) return;
      lastSave = clock.now();
      store.update((m) => {
        m.unreachable = { since: isoLocalMicros(event.sinceMs), retries: event.retries };
      }).catch(() => {});
    } else if (event.type === "reachable" && store.current.unreachable) {
      lastSave = -Infinity;
      store.update((m) => {
        delete m.unreachable;
      }).catch(() => {});
    }
  });
}

/** The exit code for a folder whose export was already complete. */
export function exitCodeFor(metadata: OutputMetadata): number {
  return metadata.serverErrors ? ExitCode.ServerErrors : ExitCode.Ok;
}

/** Prints what a run did; returns the exit code (3 when the server reported errors). */
export function reportSummary(
  dir: string,
  summary: BulkSummary,
  ctx: CommandContext,
  what: string,
): number {
  const d = summary.downloaded;
  const had = summary.alreadyHad ? `; ${summary.alreadyHad} file(s) were already downloaded` : "";
  ctx.out(
    `${what} complete in ${dir}: downloaded ${d.files} file(s), ${
      d.resources.toLocaleString("en-US")
    } resources, ${formatBytes(d.bytes)} (${formatBytes(d.diskBytes)} on disk)${had}.\n`,
  );
  const { errors, messages } = summary.server;
  const list = (items: string[]) =>
    items.slice(0, 20).map((m) => ` - ${m}\n`).join("") +
    (items.length > 20 ? ` - ... and ${items.length - 20} more\n` : "");
  if (messages.length) ctx.out(`Messages from the server:\n${list(messages)}`);
  if (errors.length) {
    ctx.out(
      `The server reported ${errors.length} error(s), kept in ${join(dir, "error")}:\n${
        list(errors)
      }`,
    );
    return ExitCode.ServerErrors;
  }
  return ExitCode.Ok;
}

/**
 * A plain output folder's lock: taken at once when the folder exists, else only when the run
 * binds the folder (bind late: the folder, its lock, log and .metadata appear once the server
 * has accepted the work).
 */
export class PlainFolderLock {
  private constructor(
    private readonly dir: string,
    private readonly command: string,
    private readonly clock: Clock,
    private lock: FolderLock | undefined,
  ) {}

  /** Locks `dir` now if it `existed`; else waits for {@linkcode PlainFolderLock.bind}. */
  static async open(
    dir: string,
    command: string,
    clock: Clock,
    existed: boolean,
  ): Promise<PlainFolderLock> {
    const lock = existed ? await FolderLock.acquire(dir, command, clock.now()) : undefined;
    return new PlainFolderLock(dir, command, clock, lock);
  }

  /** Creates and locks the folder (unless done), then writes its log and metadata. */
  async bind(log: ExportLog, store: OutputMetadataStore): Promise<void> {
    if (!this.lock) {
      await ensureDir(this.dir);
      this.lock = await FolderLock.acquire(this.dir, this.command, this.clock.now());
    }
    await log.attach();
    await store.bind();
  }

  /** Releases the lock, if it was taken. */
  async release(): Promise<void> {
    await this.lock?.release();
  }
}
