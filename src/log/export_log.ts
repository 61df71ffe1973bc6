/**
 * `log.ndjson`: the export log Cumulus ETL and bulk-data-client users read (event names and
 * fields from the "Bulk Data Export Log Items" spec). One JSON object per line, appended.
 */

import { join } from "node:path";
import type { Clock } from "../clock.ts";
import { CLIENT_NAME, VERSION } from "../version.ts";
import { FILE_MODE, writeAll } from "../workspace/files.ts";
import { isoLocalMicros } from "./time_format.ts";

/** The log's file name; Cumulus ETL looks for exactly this name. */
export const LOG_FILE = "log.ndjson";

/** One parsed row of the log. */
export interface LogRow {
  exportId: string;
  timestamp: string;
  eventId: string;
  eventDetail: Record<string, unknown>;
  [key: string]: unknown;
}

/** Headers that may carry secrets: never logged. */
const SECRET_HEADERS = /^(set-cookie|cookie|authorization|proxy-authorization)$|token|secret|key/i;

/** Response headers safe to log (lower-cased names, secrets dropped). */
export function loggableHeaders(
  headers: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!SECRET_HEADERS.test(name)) out[name.toLowerCase()] = value;
  }
  return out;
}

/** A random export id: 20 lowercase hex characters, as bulk-data-client makes them. */
export function newExportId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Appends rows to a folder's log.ndjson. A pending log (for a folder not written yet) keeps its
 * rows in memory until {@linkcode ExportLog.attach}; if the run fails first, they are dropped
 * with the run, and the folder stays as it was.
 */
export class ExportLog {
  #queue: Promise<void> = Promise.resolve();
  #pending: Uint8Array[] | undefined;
  private constructor(readonly path: string, private readonly clock: Clock, pending: boolean) {
    if (pending) this.#pending = [];
  }

  /**
   * Opens the log of `dir`. If a killed run left a half-written last line, a newline is added
   * first so the next row starts clean (readers skip the broken line).
   */
  static async open(dir: string, clock: Clock): Promise<ExportLog> {
    const log = new ExportLog(join(dir, LOG_FILE), clock, false);
    await repair(log.path);
    return log;
  }

  /** A log for a folder that does not exist yet: rows wait in memory for attach(). */
  static pending(dir: string, clock: Clock): ExportLog {
    return new ExportLog(join(dir, LOG_FILE), clock, true);
  }

  /** Writes the rows kept so far and appends directly from now on (the folder exists now). */
  async attach(): Promise<void> {
    const rows = this.#pending;
    if (!rows) return;
    this.#pending = undefined;
    await repair(this.path);
    const all = new Uint8Array(rows.reduce((n, r) => n + r.length, 0));
    let at = 0;
    for (const line of rows) {
      all.set(line, at);
      at += line.length;
    }
    if (all.length) await this.#append(all);
  }

  /** Appends one event. Rows are written in call order, each with a single write. */
  write(
    exportId: string,
    eventId: string,
    eventDetail: Record<string, unknown>,
  ): Promise<void> {
    const row: Record<string, unknown> = {
      exportId,
      timestamp: isoLocalMicros(this.clock.now()),
      eventId,
      eventDetail,
    };
    if (eventId === "kickoff") {
      row["_client"] = CLIENT_NAME;
      row["_clientVersion"] = VERSION;
    }
    const line = new TextEncoder().encode(JSON.stringify(row) + "\n");
    if (this.#pending) {
      this.#pending.push(line);
      return Promise.resolve();
    }
    return this.#append(line);
  }

  #append(line: Uint8Array): Promise<void> {
    const next = this.#queue.then(async () => {
      const file = await Deno.open(this.path, {
        append: true,
        create: true,
        mode: FILE_MODE,
      });
      try {
        await writeAll(file, line);
      } finally {
        file.close();
      }
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Every readable row (broken lines skipped). */
  async rows(): Promise<LogRow[]> {
    await this.#queue;
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw err;
    }
    const rows: LogRow[] = [];
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const row = JSON.parse(line);
        if (row && typeof row === "object" && typeof row.eventId === "string") rows.push(row);
      } catch {
        // A line cut by a killed run.
      }
    }
    return rows;
  }
}

/** Ends a log cut mid-line by a killed run with a newline, so the next row starts clean. */
async function repair(path: string): Promise<void> {
  try {
    const file = await Deno.open(path, { read: true, write: true });
    try {
      const size = (await file.stat()).size;
      if (size > 0) {
        await file.seek(-1, Deno.SeekMode.End);
        const last = new Uint8Array(1);
        await file.read(last);
        if (last[0] !== 0x0a) {
          await file.seek(0, Deno.SeekMode.End);
          await writeAll(file, new Uint8Array([0x0a]));
        }
      }
    } finally {
      file.close();
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
