/** The problems `verify` reports: stable codes, and per-file lists capped so output stays short. */

/** Every problem code, with what it means (shown by `verify --help`). */
export const PROBLEM_CODES = {
  "truncated-gzip": "gzip data ends early",
  "corrupt-gzip": "gzip data is damaged",
  "gzip-trailing-data": "bytes follow the gzip data",
  "not-gzip": "a .gz name holding plain bytes",
  "unexpected-gzip": "gzip bytes under a name without .gz",
  "unreadable": "the file cannot be opened or read",
  "bad-json": "a line is not JSON",
  "bad-utf8": "a line is not UTF-8",
  "not-object": "a line is JSON but not an object",
  "wrong-type": "a row of another resourceType than its file",
  "untyped-file": "neither the name nor the first line gives a type",
  "missing-id": "a row without an id",
  "bad-id": "an id that is not a non-empty string",
  "duplicate-id": "an id seen before in the same type of the same export",
  "count-mismatch": "rows on disk differ from the log or the manifest",
  "temp-file": "a temporary file left behind",
  "leftover-work-dir": ".crawl/ or .hydrate/ left in a finished export",
  "incomplete-export": "the export did not finish",
  "in-use": "a smart-fetch run holds the folder",
  "bad-metadata": "a .metadata file that cannot be read",
  "dangling-symlink": "a link to nothing",
  "symlink-wrong-type": "a link to a file of another type or compression",
  "stale-symlink": "a top-level link that is not the active file",
  "missing-symlink": "an active file without its top-level link",
  "base-name-collision": "two data files with one name (the ETL's flat copy keeps one)",
  "no-log": "no log.ndjson the ETL can find",
  "bad-log-line": "a log line that crashes the ETL",
  "no-kickoff": "no kickoff event with an exportId",
  "no-status-complete": "the last kickoff has no status_complete",
  "bad-export-url": "the kickoff's exportUrl is not an absolute URL",
  "wrong-group": "the exportUrl's Group is not the folder's",
  "bad-transaction-time": "transactionTime is not ISO 8601 with an offset",
  "deleted-not-bundle": "a deleted/ file not classed as Bundle",
  "deleted-not-transaction": "a deleted/ Bundle whose type is not transaction",
  "deleted-bad-entry": "a deletion entry the ETL ignores",
  "more-problems": "further problems in the same file, not listed",
} as const;

/**
 * Things the ETL reads otherwise than one may expect, though the folder is not at fault: printed
 * as notes, without failing `verify`.
 */
export const NOTE_CODES = {
  "deletions-need-flag":
    "deletions of a type the export has no file of: the ETL applies them only with --allow-missing-resources",
} as const;

/** A stable note code. */
export type NoteCode = keyof typeof NOTE_CODES;

/** A note on one file. */
export interface Note {
  file: string;
  code: NoteCode;
  message: string;
}

/** A stable problem code. */
export type ProblemCode = keyof typeof PROBLEM_CODES;

/** One problem in one file (or folder). */
export interface Problem {
  /** The path as the user gave it, joined with the path inside. */
  file: string;
  /** 1-based line, where a line is at fault. */
  line?: number;
  code: ProblemCode;
  message: string;
  /** For `more-problems`: how many are not listed. */
  count?: number;
}

/** A problem found inside a file, before it is given the file's path. */
export type LineProblem = Omit<Problem, "file">;

/** Problems listed per file before the rest are only counted. */
export const MAX_PER_FILE = 20;

/** One file's problems, listing the first {@linkcode MAX_PER_FILE} and counting the rest. */
export class ProblemList {
  readonly listed: LineProblem[] = [];
  hidden = 0;

  constructor(private readonly max = MAX_PER_FILE) {}

  /** Adds a problem (counted only, once the list is full). */
  add(problem: LineProblem): void {
    if (this.listed.length < this.max) this.listed.push(problem);
    else this.hidden++;
  }

  /** Every problem counted. */
  get total(): number {
    return this.listed.length + this.hidden;
  }
}
