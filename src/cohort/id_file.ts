/** Patient cohorts given as IDs: `--id-file` (text or CSV) and `--id-list`. */

import { basename, extname } from "node:path";
import { parse } from "csv-parse/sync";
import { ConfigError } from "../errors.ts";

/** A cohort of patient IDs (FHIR ids, or MRNs of an identifier system). */
export interface IdCohort {
  ids: string[];
  /** The identifier system, when the IDs are MRNs. */
  system: string | undefined;
  /** The name to use for the cohort in logs: the file's stem, or undefined for a list. */
  name: string | undefined;
}

/**
 * Reads an ID file: a CSV (name ending `.csv`) with a header row and a column named `id` or
 * `mrn` (case-insensitive; `id` preferred), or a text file with one ID per line. Blank values are
 * dropped and duplicates collapse.
 */
export async function readIdFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError(`Cannot read the ID file "${path}": ${(err as Error).message}`);
  }
  let values: string[];
  if (extname(path).toLowerCase() === ".csv") {
    let rows: string[][];
    try {
      rows = parse(text, {
        bom: true,
        skip_empty_lines: true,
        relax_column_count: true,
        trim: true,
      });
    } catch (err) {
      throw new ConfigError(`The ID file "${path}" is not valid CSV: ${(err as Error).message}`);
    }
    const header = (rows[0] ?? []).map((h) => h.toLowerCase());
    const column = header.indexOf("id") >= 0 ? header.indexOf("id") : header.indexOf("mrn");
    if (column < 0) {
      throw new ConfigError(
        `ID file "${path}" has no 'id' or 'mrn' header. Add a header row naming the column, or give a text file with one ID per line.`,
      );
    }
    values = rows.slice(1).map((r) => r[column] ?? "");
  } else {
    values = text.split(/\r?\n/);
  }
  const ids = [...new Set(values.map((v) => v.trim()).filter(Boolean))];
  if (ids.length === 0) throw new ConfigError(`The ID file "${path}" holds no IDs.`);
  return ids;
}

/** Builds the cohort from the flags, or undefined when none was given. */
export async function cohortFrom(flags: {
  idFile?: string | undefined;
  idList?: string | undefined;
  idSystem?: string | undefined;
}): Promise<IdCohort | undefined> {
  if (flags.idFile === undefined && flags.idList === undefined) return undefined;
  const ids = flags.idFile !== undefined ? await readIdFile(flags.idFile) : [];
  for (const id of (flags.idList ?? "").split(",")) if (id.trim()) ids.push(id.trim());
  const unique = [...new Set(ids)];
  if (unique.length === 0) throw new ConfigError("--id-list holds no IDs.");
  const name = flags.idFile === undefined
    ? undefined
    : basename(flags.idFile, extname(flags.idFile));
  return { ids: unique, system: flags.idSystem, name };
}
