/**
 * Where an export folder stands, from its metadata only (never its data files), so `status`
 * stays fast over hundreds of folders.
 */

import { join } from "node:path";
import { LOG_FILE } from "../log/export_log.ts";
import { localDateTime } from "../log/time_format.ts";
import { isDataFileName } from "./data_files.ts";
import { lockStatus } from "./lock.ts";
import { listSubfolders, readFolderKind } from "./managed.ts";
import { METADATA_FILE, type OutputMetadata } from "./metadata.ts";

/**
 * The state of a folder's newest export. `failed`: a run stopped on an error (rerun to resume);
 * `interrupted`: a run was killed, nothing in it failed (rerun to resume).
 */
export type ExportState =
  | "complete"
  | "running"
  | "failed"
  | "interrupted"
  | "cancelled"
  | "not started"
  | "missing"
  | "not an export folder";

/** One folder's status. */
export interface FolderStatus {
  path: string;
  kind: "managed" | "output" | "none" | "missing";
  /** The newest subfolder (managed folders), e.g. `002.2026-03`. */
  subfolder: string | null;
  state: ExportState;
  mode: "bulk" | "crawl" | null;
  typesDone: number;
  typesRequested: number;
  resources: number;
  files: number;
  serverErrors: number;
  /** ISO time of the last write to the export's metadata or log, if any. */
  lastActivity: string | null;
  /** A live run holds the folder's lock. */
  live: boolean;
  holder: { pid: number; host: string } | null;
  /** Why it failed, what it waits for, or null. */
  note: string | null;
}

async function mtime(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).mtime?.getTime();
  } catch {
    return undefined;
  }
}

function resourcesOf(md: OutputMetadata): number {
  if (md.totals && !md.bulk) return md.totals.resources;
  let resources = md.totals?.resources ?? 0;
  for (const f of md.bulk?.manifest?.files ?? []) resources += f.resources ?? 0;
  return resources;
}

/** Committed data files on disk (data, error/ and deleted/): what a killed run has kept. */
async function filesOnDisk(dir: string): Promise<number> {
  let n = 0;
  for (const sub of ["", "error", "deleted"]) {
    try {
      for await (const e of Deno.readDir(join(dir, sub))) {
        if (e.isFile && isDataFileName(e.name)) n++;
      }
    } catch {
      // No such folder.
    }
  }
  return n;
}

/** True when a folder holds nothing but (maybe) a lock file. */
async function isEmpty(dir: string): Promise<boolean> {
  for await (const e of Deno.readDir(dir)) if (e.name !== ".lock") return false;
  return true;
}

/** Reads the status of one managed or output folder. */
export async function folderStatus(path: string): Promise<FolderStatus> {
  const base: FolderStatus = {
    path,
    kind: "none",
    subfolder: null,
    state: "not started",
    mode: null,
    typesDone: 0,
    typesRequested: 0,
    resources: 0,
    files: 0,
    serverErrors: 0,
    lastActivity: null,
    live: false,
    holder: null,
    note: null,
  };
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return { ...base, kind: "missing", state: "missing", note: "no such folder" };
  }
  if (!info.isDirectory) {
    return { ...base, state: "not an export folder", note: "a file, not a folder" };
  }
  const lock = await lockStatus(path);
  base.live = lock.held;
  if (lock.holder) base.holder = { pid: lock.holder.pid, host: lock.holder.host };
  const kind = await readFolderKind(path).catch((err) => {
    base.note = (err as Error).message.split("\n")[0]!;
    return { kind: "none" as const };
  });
  let md: OutputMetadata | undefined;
  let exportDir = path;
  if (kind.kind === "managed") {
    base.kind = "managed";
    const newest = (await listSubfolders(path)).at(-1);
    if (newest) {
      base.subfolder = newest.name;
      exportDir = join(path, newest.name);
      md = newest.metadata;
    }
  } else if (kind.kind === "output") {
    base.kind = "output";
    md = kind.metadata;
  }
  if (!md) {
    if (base.live) base.state = "running";
    else if (kind.kind === "none" && !base.note && !(await isEmpty(path))) {
      base.state = "not an export folder";
      base.note = "no smart-fetch .metadata here";
    } else if (kind.kind === "none" && base.note) base.state = "not an export folder";
    return base;
  }
  const requested = Object.keys(md.filters);
  base.typesRequested = requested.length;
  base.typesDone = requested.filter((t) => t in (md.done ?? {})).length;
  base.mode = md.mode ?? "bulk";
  base.resources = resourcesOf(md);
  base.files = await filesOnDisk(exportDir);
  base.serverErrors = md.serverErrors ?? 0;
  const times = [
    await mtime(join(exportDir, METADATA_FILE)),
    await mtime(join(exportDir, LOG_FILE)),
  ]
    .filter((t): t is number => t !== undefined);
  base.lastActivity = times.length ? new Date(Math.max(...times)).toISOString() : null;
  const complete = kind.kind === "managed"
    ? md.complete === true
    : base.typesDone === base.typesRequested && !md.bulk;
  const unreachable = md.unreachable
    ? `server unreachable since ${
      localDateTime(Date.parse(md.unreachable.since))
    } (${md.unreachable.retries} retries)`
    : undefined;
  if (complete) base.state = "complete";
  else if (base.live) {
    base.state = "running";
    base.note = unreachable ?? null;
  } else if (md.cancelled) {
    base.state = "cancelled";
    base.note = `cancelled at ${localDateTime(Date.parse(md.cancelled))}`;
  } else if (md.lastError) {
    base.state = "failed";
    base.note = md.lastError.message;
  } else {
    base.state = "interrupted";
    base.note = "stopped before finishing; rerun the same command to resume";
  }
  if (base.state === "running" && !base.note) {
    if (md.bulk && !md.bulk.manifest) {
      base.note = `waiting for the server since ${md.bulk.kickoffTime}`;
    } else if (md.bulk?.manifest) {
      base.note = `downloading (${md.bulk.manifest.files.length} files in the manifest)`;
    }
  }
  return base;
}
