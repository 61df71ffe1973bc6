/**
 * The crawl's append-only journal, `.crawl/journal.txt`: each line says that a type's output
 * file (and the errors file) had reached a length, and which patients' searches of that type
 * were finished by then. A resumed crawl truncates each file back to its last journaled length
 * and redoes only the searches not journaled as done, so a SIGKILL at any moment loses nothing
 * and duplicates nothing (rows of unfinished searches beyond the length are cut; rows of
 * searches that were in flight before it are de-duplicated when the type is finished).
 */

import { join } from "node:path";
import { FILE_MODE } from "../workspace/files.ts";

/** The folder of a crawl's work files (none end in `.ndjson`, so no reader takes them). */
export const CRAWL_DIR = ".crawl";
/** The journal's name (not `.ndjson`/`.jsonl`: Cumulus ETL would try to read it as data). */
export const JOURNAL_FILE = "journal.txt";

/** One journal line. */
export interface JournalLine {
  /** The type whose output was flushed. */
  t: string;
  /** Byte length of the type's work file after the flush. */
  end: number;
  /** Byte length of the errors work file after the flush. */
  err: number;
  /** Patients whose searches of `t` all finished, with this flush. */
  done: string[];
  /** Newest resource date seen for `t` so far (epoch ms), for its transaction time. */
  newest?: number;
}

/** What the journal says, read back. */
export interface JournalState {
  /** Last journaled length per type. */
  ends: Map<string, number>;
  /** Last journaled length of the errors file. */
  err: number;
  /** Patients done per type. */
  done: Map<string, string[]>;
  /** Newest date per type. */
  newest: Map<string, number>;
}

/** Reads the journal of `dir` (lines cut by a kill are skipped). */
export async function readJournal(dir: string): Promise<JournalState> {
  const state: JournalState = { ends: new Map(), err: 0, done: new Map(), newest: new Map() };
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, CRAWL_DIR, JOURNAL_FILE));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return state;
    throw err;
  }
  for (const raw of text.split("\n")) {
    if (!raw.trim()) continue;
    let line: JournalLine;
    try {
      line = JSON.parse(raw);
    } catch {
      continue; // The last line of a killed run.
    }
    if (typeof line?.t !== "string" || typeof line.end !== "number") continue;
    state.ends.set(line.t, line.end);
    state.err = Math.max(state.err, line.err ?? 0);
    if (Array.isArray(line.done) && line.done.length) {
      const list = state.done.get(line.t) ?? [];
      for (const p of line.done) list.push(p);
      state.done.set(line.t, list);
    }
    if (typeof line.newest === "number") {
      state.newest.set(line.t, Math.max(state.newest.get(line.t) ?? -Infinity, line.newest));
    }
  }
  return state;
}

/** Appends lines to the journal, each made durable before the call returns. */
export class Journal {
  private constructor(private readonly file: Deno.FsFile) {}

  /** Opens (creating) the journal of `dir`. */
  static async open(dir: string): Promise<Journal> {
    await Deno.mkdir(join(dir, CRAWL_DIR), { recursive: true, mode: 0o750 });
    const file = await Deno.open(join(dir, CRAWL_DIR, JOURNAL_FILE), {
      append: true,
      create: true,
      mode: FILE_MODE,
    });
    // A line cut by a kill: start the next one on a line of its own.
    const size = (await file.stat()).size;
    if (size > 0) await file.write(new TextEncoder().encode("\n"));
    return new Journal(file);
  }

  /** Appends one line and syncs it to disk. */
  async append(line: JournalLine): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify(line) + "\n");
    let at = 0;
    while (at < bytes.length) at += await this.file.write(bytes.subarray(at));
    await this.file.syncData();
  }

  close(): void {
    try {
      this.file.close();
    } catch {
      // Closed already.
    }
  }
}
