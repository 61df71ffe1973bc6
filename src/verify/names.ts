/**
 * File names as Cumulus ETL reads them (cumulus-contract.md, sections a and b): which files it
 * lists, which it gunzips, the type a name gives, and which names are export logs.
 */

import { R4_TYPES } from "./r4_types.ts";

/** pathlib's `suffixes` (Python 3.11), lower-cased: leading dots are no suffix, a final dot none. */
function suffixes(name: string): string[] {
  if (name.endsWith(".")) return [];
  return name.replace(/^\.+/, "").split(".").slice(1).map((s) => `.${s.toLowerCase()}`);
}

/** True for a name the ETL lists: `*.ndjson`, `*.jsonl`, either with `.gz`, in any case. */
export function isDataName(name: string): boolean {
  const s = suffixes(name);
  const json = (x: string | undefined) => x === ".ndjson" || x === ".jsonl";
  return json(s.at(-1)) || (s.at(-1) === ".gz" && json(s.at(-2)));
}

/** True when the ETL gunzips the file: its last suffix is `.gz` (in any case). */
export function isGzipName(name: string): boolean {
  return suffixes(name).at(-1) === ".gz";
}

/**
 * The resource type a file name gives: split on every run of non-letters, exactly one piece
 * must be an R4 type name (`Observation.results.ndjson.gz`). Undefined: the content decides.
 */
export function typeOfName(name: string): string | undefined {
  const found = name.split(/[^A-Za-z]+/).filter((piece) => R4_TYPES.has(piece));
  return found.length === 1 ? found[0] : undefined;
}

/** The other names the ETL takes for an export log (Python `re.match(r"log\..+\.ndjson")`). */
const LOG_GLOB = /^log\.[^\n]+\.ndjson/;

/** True for an export log's name: `log.ndjson`, or `log.<something>.ndjson...`. */
export function isLogName(name: string): boolean {
  return name === "log.ndjson" || LOG_GLOB.test(name);
}

/** True for a file name that `bulk` gives a manifest entry: `Condition.001.ndjson.gz`. */
export function bulkNameType(name: string): string | undefined {
  return /^([A-Za-z]+)\.\d+\.ndjson(?:\.gz)?$/.exec(name)?.[1];
}
