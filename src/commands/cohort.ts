/** `smart-fetch cohort split MRN_FILE --size N --into DIR`: stable groups for job arrays. */

import { basename } from "node:path";
import { readIdFileContents } from "../cohort/id_file.ts";
import { readGroups, writeGroups } from "../cohort/group_dir.ts";
import { arraySpec, planSplit, type SplitPlan } from "../cohort/split.ts";
import { ConfigError, ExitCode, UsageError } from "../errors.ts";
import { ensureDir } from "../workspace/files.ts";
import { FolderLock } from "../workspace/lock.ts";
import type { CommandContext } from "./bulk_run.ts";

/** The flags of `cohort split`. */
export interface CohortSplitFlags {
  /** Most IDs in a new group. */
  size: number;
  /** The folder of group files. */
  into?: string | undefined;
  /** Group file name prefix. @default "MRN-" */
  prefix: string;
  /** Print the changes without writing. */
  dryRun?: boolean | undefined;
}

/** Parses `--size`: a whole number of at least 1. */
export function parseGroupSize(value: string): number {
  const n = Number(value.replaceAll("_", "").replaceAll(",", ""));
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`--size "${value}" is not a whole number of IDs, such as --size 10000.`);
  }
  return n;
}

const n = (x: number) => x.toLocaleString("en-US");

/** Runs `cohort split`. */
export async function runCohortSplit(
  file: string | undefined,
  flags: CohortSplitFlags,
  ctx: CommandContext,
): Promise<number> {
  if (!file) {
    throw new UsageError(
      "Give the MRN file, for example: smart-fetch cohort split mrns.csv --size 10000 --into groups",
    );
  }
  if (!flags.into) {
    throw new UsageError("Give the folder of group files with --into, for example --into groups.");
  }
  if (!flags.prefix || /[/\\\s]|\d$/.test(flags.prefix)) {
    throw new UsageError(
      `--prefix "${flags.prefix}" cannot name group files: use letters and a separator, such as MRN-.`,
    );
  }
  const dir = flags.into;
  const list = await readIdFileContents(file);
  if (list.ids.length === 0) {
    throw new ConfigError(
      `The MRN file "${file}" holds no IDs: refusing to empty every group. Check the file.`,
    );
  }
  if (!flags.dryRun) await ensureDir(dir);
  const lock = flags.dryRun
    ? undefined
    : await FolderLock.acquire(dir, "cohort split", ctx.clock.now());
  try {
    const plan = planSplit(await readGroups(dir, flags.prefix), list.ids, {
      size: flags.size,
      prefix: flags.prefix,
    });
    const written = flags.dryRun ? 0 : await writeGroups(dir, plan);
    ctx.out(report(plan, { file, dir, list, written, dryRun: !!flags.dryRun, size: flags.size }));
    return ExitCode.Ok;
  } finally {
    await lock?.release();
  }
}

/** What changed, for a person reading the job's log next quarter. */
function report(
  plan: SplitPlan,
  o: {
    file: string;
    dir: string;
    list: { ids: string[]; duplicates: number; blanks: number };
    written: number;
    dryRun: boolean;
    size: number;
  },
): string {
  const news = plan.groups.filter((g) => g.change === "new").map((g) => g.name);
  const existing = plan.groups.length - news.length;
  const lines = [
    `${o.dir}: ${n(plan.groups.length)} group(s) for the ${n(o.list.ids.length)} IDs of ${
      basename(o.file)
    } (new groups hold at most ${n(o.size)})`,
    `  kept     ${n(plan.kept)} ID(s) in their groups (${n(existing)} existing group(s))`,
    `  removed  ${n(plan.removed)} ID(s) no longer in the list, from ${
      n(plan.removedFrom)
    } group(s)`,
    `  new      ${n(plan.added)} ID(s) in ${n(news.length)} new group(s)${
      news.length ? `: ${namesOf(news)}` : ""
    }`,
  ];
  if (o.list.duplicates || o.list.blanks) {
    lines.push(
      `  ignored  ${n(o.list.duplicates)} duplicate(s) and ${n(o.list.blanks)} blank line(s)`,
    );
  }
  for (const g of plan.groups) {
    if (g.ids.length === 0) {
      lines.push(
        `  note: ${g.name} is now empty (all its IDs left the list); its number is kept and its folder keeps its exports`,
      );
    }
  }
  lines.push(
    o.dryRun
      ? "Dry run: nothing written."
      : `${o.written ? `Wrote ${n(o.written)} group file(s)` : "No group file changed"}. ` +
        `For a Slurm job array: --array=${arraySpec(plan.groups.map((g) => g.number))}`,
  );
  return lines.join("\n") + "\n";
}

/** `MRN-140, MRN-141` or, for many, `MRN-140 ... MRN-180`. */
function namesOf(names: string[]): string {
  return names.length <= 4 ? names.join(", ") : `${names[0]} ... ${names[names.length - 1]}`;
}
