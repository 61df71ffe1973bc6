/** `smart-fetch status DIR...`: where many export folders stand, at a glance or as JSON. */

import { basename, dirname, join } from "node:path";
import { arraySpec } from "../cohort/split.ts";
import { ExitCode, UsageError } from "../errors.ts";
import { formatDuration } from "../log/time_format.ts";
import { type FolderStatus, folderStatus } from "../workspace/folder_status.ts";
import type { CommandContext } from "./bulk_run.ts";

/** The flags of `status`. */
export interface StatusFlags {
  json?: boolean | undefined;
  /** Print the array indexes of the folders that are not complete, for `sbatch --array`. */
  unfinished?: boolean | undefined;
}

/** Expands a glob the shell left alone (`'out/MRN-*'`): `*`, `?` and `[...]` in the last part. */
async function expand(arg: string): Promise<string[]> {
  if (!/[*?[]/.test(basename(arg))) return [arg];
  try {
    await Deno.stat(arg);
    return [arg];
  } catch {
    // Not a real name: a pattern.
  }
  const pattern = new RegExp(
    "^" +
      basename(arg).replace(/[.+^${}()|\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".") +
      "$",
  );
  const parent = dirname(arg);
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(parent)) {
      if (e.isDirectory && pattern.test(e.name)) {
        out.push(parent === "." && !arg.startsWith("./") ? e.name : join(parent, e.name));
      }
    }
  } catch {
    // No such parent: nothing matches.
  }
  return out.sort();
}

/** States that are always in the summary line, then those shown only when some folder has them. */
const ALWAYS: FolderStatus["state"][] = ["running", "failed"];
const SOMETIMES: FolderStatus["state"][] = [
  "interrupted",
  "cancelled",
  "not started",
  "missing",
  "not an export folder",
];

/** The summary line: `97 of 144 complete, 40 running, 5 failed, 2 not started`. */
export function summaryLine(all: readonly FolderStatus[]): string {
  const n = (s: FolderStatus["state"]) => all.filter((f) => f.state === s).length;
  const parts = [`${n("complete")} of ${all.length} complete`];
  for (const state of ALWAYS) parts.push(`${n(state)} ${state}`);
  for (const state of SOMETIMES) {
    if (n(state) > 0 || state === "not started") {
      parts.push(`${n(state)} ${state}`);
    }
  }
  return parts.join(", ");
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()
  )
    .join("\n") + "\n";
}

/** Runs `status`. */
export async function runStatus(
  dirs: string[],
  flags: StatusFlags,
  ctx: CommandContext,
): Promise<number> {
  if (dirs.length === 0) {
    throw new UsageError(
      "Give one or more export folders, for example: smart-fetch status /output/root/*",
    );
  }
  const paths = [...new Set((await Promise.all(dirs.map(expand))).flat())];
  if (paths.length === 0) throw new UsageError(`No folder matches ${dirs.join(" ")}.`);
  const all: FolderStatus[] = [];
  // A few at a time: metadata reads are small, and 144 folders should take well under a second.
  for (let i = 0; i < paths.length; i += 16) {
    all.push(...await Promise.all(paths.slice(i, i + 16).map((p) => folderStatus(p))));
  }
  const now = ctx.clock.now();
  if (flags.unfinished) {
    ctx.out(unfinishedSpec(all) + "\n");
    return ExitCode.Ok;
  }
  if (flags.json) {
    const n = (s: FolderStatus["state"]) => all.filter((f) => f.state === s).length;
    ctx.out(
      JSON.stringify(
        {
          folders: all,
          summary: {
            total: all.length,
            complete: n("complete"),
            running: n("running"),
            failed: n("failed"),
            interrupted: n("interrupted"),
            cancelled: n("cancelled"),
            notStarted: n("not started"),
            missing: n("missing"),
            notExportFolder: n("not an export folder"),
            text: summaryLine(all),
          },
        },
        null,
        2,
      ) + "\n",
    );
    return exitCode(all);
  }
  const rows = [[
    "FOLDER",
    "EXPORT",
    "STATE",
    "MODE",
    "TYPES",
    "RESOURCES",
    "FILES",
    "ERRORS",
    "ACTIVE",
    "NOTE",
  ]];
  for (const f of all) {
    const age = f.lastActivity ? `${formatDuration(now - Date.parse(f.lastActivity))} ago` : "-";
    const holder = f.live && f.holder ? `pid ${f.holder.pid} on ${f.holder.host}` : undefined;
    const note = [holder, f.note].filter(Boolean).join("; ");
    rows.push([
      f.path,
      f.subfolder ?? (f.kind === "output" ? "(plain)" : "-"),
      f.state,
      f.mode ?? "-",
      f.typesRequested ? `${f.typesDone}/${f.typesRequested}` : "-",
      f.resources.toLocaleString("en-US"),
      String(f.files),
      String(f.serverErrors),
      age,
      note,
    ]);
  }
  ctx.out(table(rows) + summaryLine(all) + "\n");
  return exitCode(all);
}

/**
 * The `--array` list of the folders to run again: every one not complete (a missing folder too:
 * its task never started) and not held by a live run. The index is the number that ends the
 * folder's name, as `cohort split` names groups (`MRN-007` is task 7).
 */
export function unfinishedSpec(all: readonly FolderStatus[]): string {
  const todo: number[] = [];
  for (const f of all) {
    if (f.state === "complete" || f.live) continue;
    if (f.state === "not an export folder") {
      throw new UsageError(
        `${f.path} is not an export folder${
          f.note ? ` (${f.note})` : ""
        }: give the group folders, such as <root>/MRN-*.`,
      );
    }
    const m = /(\d+)$/.exec(basename(f.path));
    if (!m) {
      throw new UsageError(
        `Folder ${f.path} is ${f.state}, but its name ends in no number to give sbatch --array; name group folders like MRN-007.`,
      );
    }
    todo.push(Number(m[1]));
  }
  return arraySpec(todo);
}

/** A path that is missing or no export folder is a mistake in the command: exit 2. */
function exitCode(all: readonly FolderStatus[]): number {
  return all.some((f) => f.state === "missing" || f.state === "not an export folder")
    ? ExitCode.Usage
    : ExitCode.Ok;
}
