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
  /** The ID file, when one was given. */
  file?: string;
}

/** What an ID file holds, and what was dropped on the way. */
export interface IdFileContents {
  /** The IDs, each once, in file order. */
  ids: string[];
  /** Values that repeated an earlier one. */
  duplicates: number;
  /** Blank lines (or blank CSV values). */
  blanks: number;
}

/**
 * Reads an ID file: a CSV (name ending `.csv`) with a header row and a column named `id` or
 * `mrn` (case-insensitive; `id` preferred), or a text file with one ID per line. Blank values are
 * dropped and duplicates collapse, and both are counted. It refuses what is surely a mistake with
 * the line that shows it: bytes that are not UTF-8 text, control
 * characters, and in a text file a line holding several values (a CSV without `.csv`, or
 * `system|value` tokens). An empty file is allowed here.
 */
export async function readIdFileContents(path: string): Promise<IdFileContents> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Deno.errors.IsADirectory
      ? "it is a folder"
      : (err as Error).message;
    throw new ConfigError(`Cannot read the ID file "${path}": ${why}.`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ConfigError(
      `The ID file "${path}" is not UTF-8 text. Give a text file with one ID per line, or a CSV.`,
    );
  }
  const values = extname(path).toLowerCase() === ".csv" ? csvValues(text, path) : lines(text);
  const seen = new Set<string>();
  let duplicates = 0;
  let blanks = 0;
  for (const { value, line } of values) {
    const v = value.trim();
    if (!v) {
      blanks++;
      continue;
    }
    checkValue(v, line, path, values.csv);
    if (seen.has(v)) duplicates++;
    else seen.add(v);
  }
  // A text file's final newline is no blank line.
  if (!values.csv && text.length > 0 && /\n$/.test(text)) blanks--;
  return { ids: [...seen], duplicates, blanks: Math.max(0, blanks) };
}

/** Values with their 1-based line numbers; `csv` tells how they were read. */
type Values = { value: string; line: number }[] & { csv?: boolean };

function lines(text: string): Values {
  const out: Values = text.replace(/^\uFEFF/, "").split(/\r?\n/).map((value, i) => ({
    value,
    line: i + 1,
  }));
  return out;
}

function csvValues(text: string, path: string): Values {
  let rows: { record: string[]; info: { lines: number } }[];
  try {
    rows = parse(text, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
      info: true,
    }) as unknown as typeof rows;
  } catch (err) {
    throw new ConfigError(`The ID file "${path}" is not valid CSV: ${(err as Error).message}`);
  }
  const header = (rows[0]?.record ?? []).map((h) => h.toLowerCase());
  const column = header.indexOf("id") >= 0 ? header.indexOf("id") : header.indexOf("mrn");
  if (column < 0) {
    throw new ConfigError(
      `ID file "${path}" has no 'id' or 'mrn' header. Add a header row naming the column, or give a text file with one ID per line.`,
    );
  }
  const out: Values = rows.slice(1).map((r) => ({
    value: r.record[column] ?? "",
    line: r.info.lines,
  }));
  out.csv = true;
  return out;
}

/** Refuses a value that cannot be one ID, naming the line. */
function checkValue(value: string, line: number, path: string, csv: boolean | undefined): void {
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new ConfigError(
      `The ID file "${path}" line ${line} holds a control character: is it a text file? Give one ID per line.`,
    );
  }
  if (csv) return;
  const sep = /[,;\s|]/.exec(value)?.[0];
  if (sep !== undefined) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    const hint = sep === "|"
      ? "give bare values, and the system with --id-system"
      : "give one ID per line, or a .csv file with an id or mrn header";
    throw new ConfigError(
      `The ID file "${path}" line ${line} holds more than one value ("${shown}"): ${hint}.`,
    );
  }
}

/**
 * Builds the cohort from the flags, or undefined when none was given. An empty cohort is refused
 * unless `allowEmpty` (export, which accepts one only where an earlier export's patients are to
 * be reported deleted, and checks that itself).
 */
export async function cohortFrom(
  flags: {
    idFile?: string | undefined;
    idList?: string | undefined;
    idSystem?: string | undefined;
  },
  options: { allowEmpty?: boolean } = {},
): Promise<IdCohort | undefined> {
  if (flags.idFile === undefined && flags.idList === undefined) return undefined;
  const ids = flags.idFile !== undefined ? (await readIdFileContents(flags.idFile)).ids : [];
  for (const id of (flags.idList ?? "").split(",")) if (id.trim()) ids.push(id.trim());
  const unique = [...new Set(ids)];
  if (unique.length === 0 && !options.allowEmpty) throw emptyCohortError(flags.idFile);
  const name = flags.idFile === undefined
    ? undefined
    : basename(flags.idFile, extname(flags.idFile));
  return {
    ids: unique,
    system: flags.idSystem,
    name,
    ...(flags.idFile ? { file: flags.idFile } : {}),
  };
}

/** The error for a cohort without IDs (`file`: the ID file, if one was given). */
export function emptyCohortError(file: string | undefined, hint = ""): ConfigError {
  return new ConfigError(
    file === undefined
      ? `--id-list holds no IDs.${hint}`
      : `The ID file "${file}" holds no IDs.${hint}`,
  );
}
