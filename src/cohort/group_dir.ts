/** The folder of group files that `cohort split` keeps: reading the groups, writing a plan. */

import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import { ensureDir, removeStaleTemps, writeFileAtomic } from "../workspace/files.ts";
import { readIdFileContents } from "./id_file.ts";
import { type ExistingGroup, groupNumber, type SplitPlan } from "./split.ts";

/**
 * Reads the group files (`<prefix><digits>`) of `dir`; a missing folder has none. Other files are
 * left alone; temporary files of a killed run are removed.
 */
export async function readGroups(dir: string, prefix: string): Promise<ExistingGroup[]> {
  const names: { name: string; number: number }[] = [];
  try {
    await removeStaleTemps(dir);
    for await (const e of Deno.readDir(dir)) {
      const number = groupNumber(prefix, e.name);
      if (number === undefined) continue;
      if (!e.isFile) {
        throw new ConfigError(`${join(dir, e.name)} is not a file: move it out of ${dir}.`);
      }
      names.push({ name: e.name, number });
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    if (err instanceof Deno.errors.NotADirectory) {
      throw new ConfigError(`--into ${dir} is a file, not a folder.`);
    }
    throw err;
  }
  names.sort((a, b) => a.number - b.number);
  for (let i = 1; i < names.length; i++) {
    if (names[i]!.number === names[i - 1]!.number) {
      throw new ConfigError(
        `Group files ${names[i - 1]!.name} and ${
          names[i]!.name
        } in ${dir} have the same number: keep one.`,
      );
    }
  }
  const groups: ExistingGroup[] = [];
  for (const { name, number } of names) {
    const { ids } = await readIdFileContents(join(dir, name));
    groups.push({ name, number, ids });
  }
  return groups;
}

/**
 * Writes the groups a plan changes, each atomically, shrunk groups first and then new ones in
 * number order: a run stopped part-way plans the same result when run again.
 */
export async function writeGroups(dir: string, plan: SplitPlan): Promise<number> {
  await ensureDir(dir);
  let written = 0;
  for (const g of plan.groups) {
    if (g.change === "same") continue;
    await writeFileAtomic(join(dir, g.name), g.ids.map((id) => `${id}\n`).join(""));
    written++;
  }
  return written;
}
