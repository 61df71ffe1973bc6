/**
 * Everything a crawl writes while it runs: one work file per type and one for errors, and the
 * journal that ties them to the searches they hold. Writes are serialized (one flush at a time)
 * so that every journal line names lengths that are already on disk.
 */

import { join } from "node:path";
import { appendAtomically } from "../workspace/append_file.ts";
import { ensureDir, exists } from "../workspace/files.ts";
import { outcomesPath } from "../workspace/outcomes.ts";
import { type CommittedFile, commitWithoutDuplicates } from "./commit_file.ts";
import { CRAWL_DIR, Journal, readJournal } from "./journal.ts";
import { FLUSH_BYTES, WorkFile } from "./work_file.ts";

/** Name of the errors stream in the journal. */
const ERRORS = "OperationOutcome";

/** Options for {@linkcode CrawlOutput.open}. */
export interface OutputOptions {
  /** The output folder. */
  dir: string;
  /** Compress the files. */
  gzip: boolean;
  /** The types being crawled. */
  types: readonly string[];
  /** The cohort, in its saved order (patient -> position). */
  patients: ReadonlyMap<string, number>;
}

/** One type's progress. */
interface TypeState {
  work: WorkFile;
  /** Patients done, by cohort position (from the journal and this run). */
  done: Uint8Array;
  doneCount: number;
  /** Done in this run, not journaled yet. */
  unflushed: string[];
  newest: number | undefined;
}

/** The crawl's files and journal. */
export class CrawlOutput {
  readonly #o: OutputOptions;
  readonly #types = new Map<string, TypeState>();
  #errors!: WorkFile;
  #journal!: Journal;
  #queue: Promise<void> = Promise.resolve();

  private constructor(options: OutputOptions) {
    this.#o = options;
  }

  /** The final data file of a type (`Condition.ndjson.gz`). */
  static finalName(type: string, gzip: boolean): string {
    return `${type}.ndjson${gzip ? ".gz" : ""}`;
  }

  /** Opens the work files, cut back to the journal, and learns which searches are done. */
  static async open(options: OutputOptions): Promise<CrawlOutput> {
    const out = new CrawlOutput(options);
    const work = join(options.dir, CRAWL_DIR);
    await ensureDir(work);
    const state = await readJournal(options.dir);
    const part = (name: string) => join(work, `${CrawlOutput.finalName(name, options.gzip)}.part`);
    out.#errors = await WorkFile.open(part(ERRORS), options.gzip, state.err);
    for (const type of options.types) {
      const done = new Uint8Array(options.patients.size);
      let doneCount = 0;
      for (const patient of state.done.get(type) ?? []) {
        const at = options.patients.get(patient);
        if (at !== undefined && !done[at]) {
          done[at] = 1;
          doneCount++;
        }
      }
      out.#types.set(type, {
        work: await WorkFile.open(part(type), options.gzip, state.ends.get(type) ?? 0),
        done,
        doneCount,
        unflushed: [],
        newest: state.newest.get(type),
      });
    }
    out.#journal = await Journal.open(options.dir);
    return out;
  }

  #state(type: string): TypeState {
    const s = this.#types.get(type);
    if (!s) throw new Error(`not a crawled type: ${type}`);
    return s;
  }

  /** Whether the searches of `type` for the patient at `index` are done. */
  isDone(type: string, index: number): boolean {
    return this.#state(type).done[index] === 1;
  }

  /** Patients done for `type`. */
  doneCount(type: string): number {
    return this.#state(type).doneCount;
  }

  /** The newest resource date seen for `type` (epoch ms), if any. */
  newest(type: string): number | undefined {
    return this.#state(type).newest;
  }

  /** Adds a resource row of `type`. */
  add(type: string, row: string, dateMs: number | undefined): void {
    const s = this.#state(type);
    s.work.add(row);
    if (dateMs !== undefined && (s.newest === undefined || dateMs > s.newest)) s.newest = dateMs;
    if (s.work.pending >= FLUSH_BYTES) void this.flush(type).catch(() => {});
  }

  /** Adds an OperationOutcome for error/. */
  addError(outcome: Record<string, unknown>): void {
    this.#errors.add(JSON.stringify(outcome));
  }

  /** Marks a patient's searches of `type` done (durable at the next flush). */
  markDone(type: string, patient: string): void {
    const s = this.#state(type);
    const at = this.#o.patients.get(patient);
    if (at === undefined || s.done[at]) return;
    s.done[at] = 1;
    s.doneCount++;
    s.unflushed.push(patient);
  }

  /** True when rows or done marks are waiting for a flush. */
  dirty(type: string): boolean {
    const s = this.#state(type);
    return s.work.pending > 0 || s.unflushed.length > 0;
  }

  /**
   * Writes `type`'s buffered rows, and the errors, then journals them with the patients done so
   * far. Queued behind any flush in progress.
   */
  flush(type: string): Promise<void> {
    const next = this.#queue.then(async () => {
      const s = this.#state(type);
      if (!(s.work.pending > 0 || s.unflushed.length > 0 || this.#errors.pending > 0)) return;
      // Taken before any await: marks made meanwhile wait for the next flush, and their rows
      // (added before the mark) are in what is written here or later.
      const done = s.unflushed;
      s.unflushed = [];
      const err = await this.#errors.write();
      const end = await s.work.write();
      await this.#journal.append({
        t: type,
        end,
        err,
        done,
        ...(s.newest === undefined ? {} : { newest: s.newest }),
      });
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Flushes every type that has something waiting. */
  async flushAll(): Promise<void> {
    for (const type of this.#types.keys()) if (this.dirty(type)) await this.flush(type);
    if (this.#errors.pending > 0) {
      const first = this.#types.keys().next().value;
      if (first !== undefined) await this.flush(first);
    }
  }

  /**
   * Makes `type`'s data file (all its searches done): flushes, then writes it without duplicate
   * ids under its final name. Idempotent: a committed type is left alone.
   */
  async commit(type: string): Promise<CommittedFile | undefined> {
    await this.flush(type);
    const final = join(this.#o.dir, CrawlOutput.finalName(type, this.#o.gzip));
    const s = this.#state(type);
    s.work.close();
    if (await exists(final) && !(await exists(s.work.path))) return undefined;
    if (!(await exists(s.work.path))) {
      // Nothing was ever found: an empty type has no file, as in a bulk export.
      return { resources: 0, bytes: 0, duplicates: 0 };
    }
    const result = await commitWithoutDuplicates(s.work.path, final, this.#o.gzip);
    await Deno.remove(s.work.path);
    return result;
  }

  /**
   * At the very end: writes error/OperationOutcome.ndjson[.gz] (when there is anything) and
   * removes the work folder.
   */
  async finish(): Promise<void> {
    await this.#errors.write();
    this.#errors.close();
    this.#journal.close();
    for (const s of this.#types.values()) s.work.close();
    if (this.#errors.length > 0) {
      const final = outcomesPath(this.#o.dir, this.#o.gzip);
      await ensureDir(join(this.#o.dir, "error"));
      await appendAtomically(final, this.#errors.path, this.#o.gzip, this.#o.gzip);
    }
    await Deno.remove(join(this.#o.dir, CRAWL_DIR), { recursive: true }).catch(() => {});
  }

  /** Closes the files without finishing (a failed or interrupted run). */
  close(): void {
    this.#errors.close();
    this.#journal.close();
    for (const s of this.#types.values()) s.work.close();
  }
}
