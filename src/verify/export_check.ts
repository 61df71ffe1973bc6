/**
 * One export the ETL may be pointed at (a plain output folder, or one numbered subfolder of a
 * managed folder), checked as the ETL reads it: every data file of the tree, ids unique per
 * type, base names unique for the ETL's flat copy, the log, the counts, nothing left over.
 */

import { basename, join } from "node:path";
import type { OutputMetadata } from "../workspace/metadata.ts";
import type { CheckPool } from "./check_pool.ts";
import { type CheckedFile, checkLoggedCounts, checkManifestCounts } from "./counts.ts";
import { laterSightings, repeatedHashes, type Sighting } from "./duplicates.ts";
import type { FileJob, FileReport } from "./file_check.ts";
import { checkLog } from "./log_check.ts";
import { isDataName, isGzipName, isLogName, typeOfName } from "./names.ts";
import type { Note, Problem } from "./problems.ts";
import { codePointCompare, walkTree } from "./tree.ts";

/** An export to check. */
export interface ExportUnit {
  /** The folder. */
  dir: string;
  /** The folder as problems name it (the user's path, joined with the subfolder). */
  shown: string;
  /** Its `.metadata`. */
  metadata: OutputMetadata;
  /** The Group the folder is for, when known (a managed folder's); else the export's own. */
  group: string | null | undefined;
  /** A managed folder's subfolder: complete only once `complete` is set. */
  subfolder: boolean;
}

/** Runs file checks on the pool, and keeps each file's rows and bytes for the totals. */
export class FileChecks {
  /** Rows and bytes on disk of each file checked, by link-resolved path. */
  readonly totals = new Map<string, { rows: number; bytes: number }>();

  constructor(private readonly pool: CheckPool) {}

  /** The first-pass report of a file (its id hashes are dropped once its export is done). */
  async check(job: FileJob): Promise<FileReport> {
    const report = await this.pool.check(job);
    this.totals.set(job.path, { rows: report.rows, bytes: report.bytesIn });
    return report;
  }

  /** Where the ids with these hashes are in a file (the duplicate check's second pass). */
  find(job: FileJob, hashes: number[]): Promise<FileReport> {
    return this.pool.check({ ...job, findHashes: hashes });
  }
}

/** The job for a data file of an export. */
export function jobFor(real: string, rel: string): FileJob {
  const name = basename(real);
  return {
    path: real,
    nameType: typeOfName(name),
    gzip: isGzipName(name),
    deleted: rel.startsWith("deleted/"),
  };
}

/** Checks one export; problems go to `problem`, notes to `note`. Returns the data files checked. */
export async function checkExport(
  unit: ExportUnit,
  checks: FileChecks,
  problem: (p: Problem) => void,
  note: (n: Note) => void,
): Promise<Set<string>> {
  const { dir, shown, metadata: md } = unit;
  const tree = await walkTree(dir);
  for (const rel of tree.temps) {
    const message =
      "a temporary file left by an interrupted write (rerun the export, or delete it)";
    problem({ file: join(shown, rel), code: "temp-file", message });
  }
  for (const { rel, target } of tree.dangling) {
    const message = `a link to ${target}, which does not exist: the ETL skips it`;
    problem({ file: join(shown, rel), code: "dangling-symlink", message });
  }
  for (const { rel, message } of tree.unreadable) {
    problem({ file: join(shown, rel), code: "unreadable", message });
  }
  await checkFinished(unit, problem);

  const data = tree.files.filter((f) =>
    isDataName(basename(f.real)) && !isLogName(basename(f.real))
  );
  const jobs = data.map((f) => ({ rel: f.rel, size: f.size, job: jobFor(f.real, f.rel) }));
  // The biggest first, so that no core waits at the end for one big file.
  const order = [...jobs].sort((a, b) => b.size - a.size);
  const reports = new Map<string, FileReport>();
  await Promise.all(order.map(async (j) => reports.set(j.rel, await checks.check(j.job))));
  const checked: CheckedFile[] = jobs.map((j) => ({ rel: j.rel, report: reports.get(j.rel)! }));
  for (const { rel, report } of checked) {
    for (const p of report.problems) problem({ file: join(shown, rel), ...p });
    if (report.hidden) {
      const message = `and ${report.hidden} more problems in this file`;
      problem({ file: join(shown, rel), code: "more-problems", message, count: report.hidden });
    }
  }
  await checkDuplicates(jobs, checked, checks, shown, problem);
  noteDeletionsWithoutData(jobs, checked, shown, note);
  checkBaseNames(data, shown, problem);

  const logged = await checkLog(dir, shown, {
    group: unit.group,
    crawl: md.mode === "crawl",
  }, problem);
  checkLoggedCounts(checked, logged, shown, problem);
  if (md.bulk) checkManifestCounts(checked, md, shown, problem);
  return new Set(data.map((f) => f.real));
}

/** Whether the metadata says the export finished, and nothing of a run is left behind. */
async function checkFinished(unit: ExportUnit, problem: (p: Problem) => void): Promise<void> {
  const md = unit.metadata;
  const requested = Object.keys(md.filters);
  const done = requested.filter((t) => t in (md.done ?? {})).length;
  const complete = unit.subfolder ? md.complete === true : done === requested.length && !md.bulk;
  if (!complete) {
    const why = md.cancelled
      ? "it was cancelled"
      : md.lastError
      ? `it failed: ${md.lastError.message.split("\n")[0]}`
      : "rerun the same command to finish it";
    const message = `the export did not finish (${done} of ${requested.length} types done): ${why}`;
    problem({ file: join(unit.shown, ".metadata"), code: "incomplete-export", message });
    return;
  }
  for (const [work, what] of [[".crawl", "crawl"], [".hydrate", "hydration"]] as const) {
    const info = await Deno.lstat(join(unit.dir, work)).catch(() => undefined);
    if (!info?.isDirectory) continue;
    const message = `the export is complete, yet the ${what}'s work folder is still here`;
    problem({ file: join(unit.shown, work), code: "leftover-work-dir", message });
  }
}

/** Ids unique within each type, across the type's files (not deletions or server messages). */
async function checkDuplicates(
  jobs: readonly { rel: string; job: FileJob }[],
  checked: readonly CheckedFile[],
  checks: FileChecks,
  shown: string,
  problem: (p: Problem) => void,
): Promise<void> {
  const byType = new Map<string, { rel: string; job: FileJob; hashes: Float64Array }[]>();
  checked.forEach(({ rel, report }, k) => {
    if (!report.type || !report.hashes || jobs[k]!.job.deleted) return;
    const list = byType.get(report.type) ?? [];
    list.push({ rel, job: jobs[k]!.job, hashes: report.hashes });
    byType.set(report.type, list);
  });
  for (const files of byType.values()) {
    const repeated = repeatedHashes(files.map((f) => f.hashes));
    if (!repeated.length) continue;
    const found = await Promise.all(files.map((f) => checks.find(f.job, repeated)));
    const sightings: Sighting[] = files.flatMap((f, k) =>
      (found[k]!.found ?? []).map((s) => ({ file: f.rel, ...s }))
    );
    for (const [dup, first] of laterSightings(sightings)) {
      const at = first.file === dup.file ? `line ${first.line}` : `${first.file}:${first.line}`;
      problem({
        file: join(shown, dup.file),
        line: dup.line,
        code: "duplicate-id",
        message: `duplicate id ${JSON.stringify(dup.id)} (first at ${at})`,
      });
    }
  }
}

/**
 * Deletions of a type the export holds no file of (every resource of it gone since the last
 * export, or an emptied cohort): the ETL runs no task for a type without input, so it applies
 * them only when run with --allow-missing-resources. Not a fault of the folder: a note.
 */
function noteDeletionsWithoutData(
  jobs: readonly { job: FileJob }[],
  checked: readonly CheckedFile[],
  shown: string,
  note: (n: Note) => void,
): void {
  const present = new Set<string>();
  checked.forEach(({ report }, k) => {
    if (!jobs[k]!.job.deleted && report.type) present.add(report.type);
  });
  checked.forEach(({ rel, report }, k) => {
    if (!jobs[k]!.job.deleted) return;
    for (const [type, n] of Object.entries(report.deletes ?? {}).sort()) {
      if (present.has(type)) continue;
      note({
        file: join(shown, rel),
        code: "deletions-need-flag",
        message:
          `${n.toLocaleString("en-US")} ${type} deletion(s), but the export has no ${type} ` +
          `file: Cumulus ETL runs no ${type} task then, so it applies them only with ` +
          "--allow-missing-resources",
      });
    }
  });
}

/** The ETL copies every data file of the tree into one folder by name: names must be unique. */
function checkBaseNames(
  data: readonly { rel: string; real: string }[],
  shown: string,
  problem: (p: Problem) => void,
): void {
  const byName = new Map<string, { rel: string; real: string }[]>();
  for (const f of data) byName.set(basename(f.real), [...(byName.get(basename(f.real)) ?? []), f]);
  for (const [name, files] of byName) {
    if (files.length < 2) continue;
    // The one whose resolved path sorts last is the one the ETL keeps.
    const sorted = [...files].sort((a, b) => codePointCompare(a.real, b.real));
    const kept = sorted.at(-1)!;
    for (const f of sorted.slice(0, -1)) {
      const message = `${name} is also at ${kept.rel}: the ETL's flat copy keeps only that one`;
      problem({ file: join(shown, f.rel), code: "base-name-collision", message });
    }
  }
}
