/**
 * Checks one data file, start to end, streaming: it must read as the ETL reads it (file_read.ts),
 * every line must be a JSON object (ndjson_scanner.ts) of the file's type (from the name, else
 * from line 1, as the ETL types files), with an id; under `deleted/`, every row must be a
 * deletion the ETL applies. Ids are returned as sorted 53-bit hashes (8 bytes each) for the
 * duplicate check across a type's files; a second pass returns the exact ids behind the hashes
 * that repeat. Runs in a worker (file_worker.ts) or in-process.
 */

import { ID_ABSENT, ID_STRING } from "./capture.ts";
import { readData } from "./file_read.ts";
import { NdjsonScanner } from "./ndjson_scanner.ts";
import { type LineProblem, ProblemList } from "./problems.ts";
import { R4_TYPES } from "./r4_types.ts";

/** One file to check. */
export interface FileJob {
  /** The file to read (a link's target). */
  path: string;
  /** The type its name gives; undefined: line 1 decides, as in the ETL. */
  nameType: string | undefined;
  /** Its name ends in `.gz`: the ETL gunzips it. */
  gzip: boolean;
  /** It is under the export's `deleted/`: its rows must be DELETE transaction Bundles. */
  deleted: boolean;
  /** Second pass: report only where the ids with these hashes are. */
  findHashes?: number[];
}

/** What one file holds, and what is wrong with it. */
export interface FileReport {
  /** Lines that are not blank. */
  rows: number;
  bytesIn: number;
  bytesOut: number;
  /** The type the ETL gives the file; null when it gives none. */
  type: string | null;
  problems: LineProblem[];
  /** Problems counted but not listed. */
  hidden: number;
  /** The bytes could not be read to the end (a gzip fault): `rows` counts only those read. */
  cut: boolean;
  /** The string ids' hashes, sorted (first pass; not for Bundle and OperationOutcome files). */
  hashes?: Float64Array<ArrayBuffer>;
  /** Second pass: the ids whose hash was asked for, with their lines. */
  found?: { id: string; line: number }[];
  /** Under `deleted/`: the deletions the ETL applies, counted per type. */
  deletes?: Record<string, number>;
}

/** Types whose rows need no id: deletion Bundles and server messages have none. */
const NO_ID_TYPES = new Set(["Bundle", "OperationOutcome"]);

/** Checks one file (see the module doc). */
export async function checkFile(job: FileJob): Promise<FileReport> {
  const problems = new ProblemList();
  const find = job.findHashes && new Set(job.findHashes);
  const found: { id: string; line: number }[] = [];
  let type: string | null | undefined = job.nameType;
  let rows = 0;
  let hashes = new Float64Array(1024);
  let hashCount = 0;
  const deletes: Record<string, number> = {};
  const report = (problem: LineProblem) => {
    if (!find) problems.add(problem);
  };
  /**
   * Types the file by line 1 when its name does not (`resourceType`: line 1's, or false when
   * line 1 is no object); true when its rows can be checked.
   */
  const typed = (line: number, resourceType: string | null | undefined | false): boolean => {
    if (type !== undefined) return type !== null;
    if (line === 1 && typeof resourceType === "string") type = resourceType;
    else {
      const why = line > 1
        ? "line 1 is blank: the ETL ignores the file"
        : resourceType === false
        ? "line 1 is not a JSON object: the ETL ignores the file"
        : "line 1 has no resourceType: the ETL never reads the file";
      report({ code: "untyped-file", message: `the name gives no resource type and ${why}` });
      type = null;
    }
    if (type !== null && job.deleted && type !== "Bundle") {
      report({ code: "deleted-not-bundle", message: deletedMessage(type, "its line 1") });
    }
    return type !== null;
  };
  const scanner = new NdjsonScanner({
    object(line, resourceType, id, text) {
      rows++;
      if (!typed(line, resourceType)) return;
      if (resourceType !== type) {
        report({ line, code: "wrong-type", message: wrongType(resourceType, type!) });
        return;
      }
      if (NO_ID_TYPES.has(type!)) {
        if (job.deleted && text !== undefined && !find) {
          checkDeletion(line, text, report, deletes);
        }
        return;
      }
      if (id.kind !== ID_STRING || id.empty) {
        const message = id.kind === ID_ABSENT
          ? "no id"
          : id.kind === ID_STRING
          ? "the id is empty"
          : "the id is not a string";
        report({ line, code: id.kind === ID_ABSENT ? "missing-id" : "bad-id", message });
        return;
      }
      const hash = id.hash();
      if (find) {
        if (find.has(hash)) found.push({ id: id.text(), line });
        return;
      }
      if (hashCount === hashes.length) {
        const bigger = new Float64Array(hashes.length * 2);
        bigger.set(hashes);
        hashes = bigger;
      }
      hashes[hashCount++] = hash;
    },
    bad(line, code, message) {
      rows++;
      typed(line, false);
      report({ line, code, message });
    },
  }, { keepLines: job.deleted && (type === "Bundle" || type === undefined) });
  if (type !== undefined && job.deleted && type !== "Bundle") {
    report({ code: "deleted-not-bundle", message: deletedMessage(type, "its name") });
  }
  const read = await readData(job.path, { gzip: job.gzip }, (chunk) => scanner.feed(chunk));
  if (read.fault) report({ code: read.fault.code, message: read.fault.message });
  else scanner.end();
  return {
    rows,
    bytesIn: read.bytesIn,
    bytesOut: read.bytesOut,
    type: type ?? null,
    problems: problems.listed,
    hidden: problems.hidden,
    cut: read.fault !== undefined,
    ...(find ? { found } : { hashes: hashes.slice(0, hashCount).sort() }),
    ...(job.deleted && !find ? { deletes } : {}),
  };
}

/** "a Patient", "an Encounter". */
function a(type: string): string {
  return `${/^[AEIOU]/.test(type) ? "an" : "a"} ${type}`;
}

function wrongType(resourceType: string | null | undefined, type: string): string {
  if (resourceType === undefined) return `no resourceType, in ${a(type)} file: the ETL drops it`;
  if (resourceType === null) return `resourceType is not a string: the ETL drops the row`;
  return `${a(resourceType)} row in ${a(type)} file: the ETL drops it`;
}

function deletedMessage(type: string, by: string): string {
  return `in deleted/ but typed ${type} by ${by}: the ETL reads it as ${type} data, not as ` +
    "deletions";
}

/**
 * A deletion the ETL applies: a transaction Bundle of `DELETE Type/id` entries, counted per type
 * into `deletes`.
 */
function checkDeletion(
  line: number,
  text: string,
  report: (p: LineProblem) => void,
  deletes: Record<string, number>,
): void {
  const bundle = JSON.parse(text) as Record<string, unknown>;
  if (bundle.type !== "transaction") {
    const message = `a Bundle of type ${JSON.stringify(bundle.type) ?? "(none)"}, not ` +
      `"transaction": the ETL skips it`;
    report({ line, code: "deleted-not-transaction", message });
    return;
  }
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  const bad: string[] = [];
  entries.forEach((entry: unknown, k: number) => {
    const request = (entry as { request?: { method?: unknown; url?: unknown } } | null)?.request;
    const method = request?.method;
    const url = request?.url;
    const m = typeof url === "string" ? /^([A-Za-z]+)\/[^/]+$/.exec(url) : null;
    if (method !== "DELETE") {
      bad.push(
        `entry ${k + 1}: request.method is ${JSON.stringify(method) ?? "missing"}, not DELETE`,
      );
    } else if (!m || !R4_TYPES.has(m[1]!)) {
      bad.push(`entry ${k + 1}: request.url ${JSON.stringify(url) ?? "is missing"} is not Type/id`);
    } else deletes[m[1]!] = (deletes[m[1]!] ?? 0) + 1;
  });
  if (bad.length) {
    const more = bad.length > 1 ? ` (and ${bad.length - 1} more)` : "";
    report({ line, code: "deleted-bad-entry", message: `${bad[0]}: the ETL ignores it${more}` });
  }
}
