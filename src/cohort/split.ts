/**
 * Stable splitting of a cohort into numbered groups (`MRN-000`, `MRN-001`, ...), the plan only.
 * A refresh with a new list keeps every MRN in the group it was in, drops MRNs that left (so that
 * group's next export reports the patient deleted), and puts new MRNs in new groups: existing
 * groups are never renumbered, so each group folder's export history stays one cohort.
 */

import { ConfigError } from "../errors.ts";

/** A group file already in the folder. */
export interface ExistingGroup {
  /** Its file name, `MRN-007`. */
  name: string;
  /** Its number, 7. */
  number: number;
  /** Its IDs, in file order. */
  ids: string[];
}

/** What becomes of one group. */
export interface PlannedGroup {
  name: string;
  number: number;
  ids: string[];
  /** `same`: untouched; `shrunk`: some IDs left; `new`: a new group. */
  change: "same" | "shrunk" | "new";
}

/** The result of {@linkcode planSplit}. */
export interface SplitPlan {
  /** Every group, by number. */
  groups: PlannedGroup[];
  /** IDs that stayed in their group. */
  kept: number;
  /** IDs that left the list, and how many groups they left. */
  removed: number;
  removedFrom: number;
  /** IDs put in new groups. */
  added: number;
}

/** Options of {@linkcode planSplit}. */
export interface PlanSplitOptions {
  /** Most IDs in a new group. */
  size: number;
  /** Group file name prefix. @default "MRN-" */
  prefix?: string;
}

/** Digits in a group number; more are used once there are over a thousand groups. */
const WIDTH = 3;

/** The file name of group `n`: `MRN-007`. */
export function groupName(prefix: string, n: number): string {
  return `${prefix}${String(n).padStart(WIDTH, "0")}`;
}

/** The number of a group file name with this prefix, or undefined when it is not one. */
export function groupNumber(prefix: string, name: string): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const digits = name.slice(prefix.length);
  return /^\d{1,9}$/.test(digits) ? Number(digits) : undefined;
}

/**
 * Plans the groups for `ids` (unique, in list order) given the groups already there. New groups
 * take new IDs in list order, `size` at a time, numbered after the highest existing group, so a
 * run stopped after writing some groups plans the same result when run again.
 */
export function planSplit(
  existing: readonly ExistingGroup[],
  ids: readonly string[],
  options: PlanSplitOptions,
): SplitPlan {
  const prefix = options.prefix ?? "MRN-";
  const wanted = new Set(ids);
  const owner = new Map<string, string>();
  const groups: PlannedGroup[] = [];
  let kept = 0;
  let removed = 0;
  let removedFrom = 0;
  for (const g of [...existing].sort((a, b) => a.number - b.number)) {
    const stay: string[] = [];
    for (const id of g.ids) {
      const other = owner.get(id);
      if (other !== undefined) {
        throw new ConfigError(
          `ID "${id}" is in both group ${other} and group ${g.name}: remove it from one of them, then run cohort split again.`,
        );
      }
      owner.set(id, g.name);
      if (wanted.has(id)) stay.push(id);
    }
    kept += stay.length;
    if (stay.length < g.ids.length) {
      removed += g.ids.length - stay.length;
      removedFrom++;
    }
    groups.push({
      name: g.name,
      number: g.number,
      ids: stay,
      change: stay.length < g.ids.length ? "shrunk" : "same",
    });
  }
  const fresh = ids.filter((id) => !owner.has(id));
  let next = groups.length ? groups[groups.length - 1]!.number + 1 : 0;
  for (let i = 0; i < fresh.length; i += options.size, next++) {
    groups.push({
      name: groupName(prefix, next),
      number: next,
      ids: fresh.slice(i, i + options.size),
      change: "new",
    });
  }
  return { groups, kept, removed, removedFrom, added: fresh.length };
}

/**
 * A Slurm `--array` list for these numbers, ranges folded: `0-5,7,9-12`.
 */
export function arraySpec(numbers: Iterable<number>): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}
