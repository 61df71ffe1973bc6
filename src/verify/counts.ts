/**
 * Row counts against what the export recorded: per type, the rows of the files a bulk export
 * downloaded (`Type.NNN.ndjson.gz` in the folder, `error/`, `deleted/`) must be what its
 * download_complete events logged; while an export is in flight, each file's rows must match the
 * manifest's `count` and what `.metadata` recorded on download.
 */

import { basename, join } from "node:path";
import type { OutputMetadata } from "../workspace/metadata.ts";
import type { FileReport } from "./file_check.ts";
import type { LoggedDownloads } from "./log_check.ts";
import { bulkNameType } from "./names.ts";
import type { Problem } from "./problems.ts";

/** A checked file of an export: its path inside the export and its report. */
export interface CheckedFile {
  rel: string;
  report: FileReport;
}

/** The manifest array a file inside an export belongs to, by its folder. */
function itemTypeOf(rel: string): string | undefined {
  const parts = rel.split("/");
  if (parts.length === 1) return "output";
  if (parts.length === 2 && (parts[0] === "error" || parts[0] === "deleted")) return parts[0];
  return undefined;
}

/** Compares the rows on disk with the log's download events (see the module doc). */
export function checkLoggedCounts(
  files: readonly CheckedFile[],
  logged: LoggedDownloads,
  shown: string,
  problem: (p: Problem) => void,
): void {
  const onDisk = new Map<string, { rows: number; files: number; cut: boolean }>();
  for (const { rel, report } of files) {
    const type = bulkNameType(basename(rel));
    const itemType = itemTypeOf(rel);
    if (!type || !itemType) continue;
    const key = `${itemType}|${type}`;
    const sum = onDisk.get(key) ?? { rows: 0, files: 0, cut: false };
    sum.rows += report.rows;
    sum.files++;
    sum.cut ||= report.cut;
    onDisk.set(key, sum);
  }
  for (const [key, log] of [...logged].sort(([a], [b]) => a.localeCompare(b))) {
    const disk = onDisk.get(key) ?? { rows: 0, files: 0, cut: false };
    // A file that cannot be read to its end is reported already: its rows are not known.
    if (disk.cut) continue;
    // A kill between a file's rename and its log row loses the row: then only a shortfall is sure.
    if (disk.rows === log.rows || (!log.allComplete && disk.rows > log.rows)) continue;
    const [itemType, type] = key.split("|") as [string, string];
    const where = itemType === "output" ? "" : ` in ${itemType}/`;
    const message = `${type}${where}: ${disk.rows.toLocaleString("en-US")} rows in ${disk.files} ` +
      `file(s), but log.ndjson's download_complete events count ${
        log.rows.toLocaleString("en-US")
      } in ${log.files}`;
    problem({ file: shown, code: "count-mismatch", message });
  }
}

/** While a bulk export is in flight: each file's rows against its manifest entry. */
export function checkManifestCounts(
  files: readonly CheckedFile[],
  metadata: OutputMetadata | undefined,
  shown: string,
  problem: (p: Problem) => void,
): void {
  const byRel = new Map(files.map((f) => [f.rel, f.report]));
  for (const entry of metadata?.bulk?.manifest?.files ?? []) {
    const report = byRel.get(entry.name);
    if (!report || report.cut) continue;
    const file = join(shown, entry.name);
    const rows = report.rows.toLocaleString("en-US");
    if (entry.count !== undefined && entry.count !== report.rows) {
      const message = `${rows} rows, but the manifest's count is ${entry.count}`;
      problem({ file, code: "count-mismatch", message });
    } else if (entry.resources !== undefined && entry.resources !== report.rows) {
      const message = `${rows} rows, but .metadata recorded ${entry.resources} on download`;
      problem({ file, code: "count-mismatch", message });
    }
  }
}
