/**
 * `log.ndjson` by Cumulus ETL's rules (cumulus-contract.md section b): found at the top by the
 * resolved name, the last kickoff's export has a status_complete, its exportUrl is absolute and
 * names the folder's Group, its transactionTime is ISO 8601 with an offset, and no line is valid
 * JSON that is not an object (that crashes the ETL). Also sums the rows the export's
 * download_complete events logged, per type, for the count check.
 */

import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { isGzipName, isLogName } from "./names.ts";
import type { Problem } from "./problems.ts";

/** What the export's download events say it downloaded, per `itemType|type`. */
export type LoggedDownloads = Map<string, { rows: number; files: number; allComplete: boolean }>;

/** What the log should say, from the folder's metadata. */
export interface LogExpectation {
  /** The Group exported (null: none); undefined when the metadata does not say. */
  group: string | null | undefined;
  /** A crawl names its cohort in the URL (`--group-nickname`, the ID file...): any name will do. */
  crawl: boolean;
}

type Row = Record<string, unknown>;
const isObject = (v: unknown): v is Row => typeof v === "object" && v !== null && !Array.isArray(v);
const show = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 80);

/**
 * Checks the export log at the top of `dir`; `shown` is `dir` as problems name it. Returns the
 * logged downloads of the last export (empty when the log cannot be read).
 */
export async function checkLog(
  dir: string,
  shown: string,
  expect: LogExpectation,
  problem: (p: Problem) => void,
): Promise<LoggedDownloads> {
  const downloads: LoggedDownloads = new Map();
  const path = await findLog(dir, shown, problem);
  if (!path) return downloads;
  const file = join(shown, basename(path));
  let bytes: Uint8Array = await Deno.readFile(path);
  if (isGzipName(basename(path))) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      problem({ file, code: "no-log", message: `cannot be gunzipped (${(err as Error).message})` });
      return downloads;
    }
  }
  const rows: { line: number; row: Row }[] = [];
  new TextDecoder().decode(bytes).split("\n").forEach((text, i) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return; // A line cut by a killed run: the ETL skips it too.
    }
    if (isObject(value)) rows.push({ line: i + 1, row: value });
    else {
      const message = `${show(value)} is not a JSON object: this crashes the ETL`;
      problem({ file, line: i + 1, code: "bad-log-line", message });
    }
  });
  const kickoffs = rows.filter((r) => r.row.eventId === "kickoff");
  const last = kickoffs.at(-1);
  const exportId = last?.row.exportId;
  if (!last || !exportId) {
    const message = "no kickoff event with an exportId: the ETL gets no group or export time";
    problem({ file, code: "no-kickoff", message });
    return downloads;
  }
  const mine = rows.filter((r) => r.row.exportId === exportId);
  checkKickoff(mine.filter((r) => r.row.eventId === "kickoff").at(-1)!, file, expect, problem);
  const done = mine.filter((r) => r.row.eventId === "status_complete").at(-1);
  if (!done) {
    const message = `the last kickoff (line ${last.line}, export ${show(exportId)}) has no ` +
      "status_complete: the ETL gets no export time";
    problem({ file, code: "no-status-complete", message });
  } else {
    const time = detail(done.row)?.["transactionTime"];
    if (typeof time !== "string" || !isIsoWithOffset(time)) {
      const message = `transactionTime ${show(time)} is not ISO 8601 with an offset`;
      problem({ file, line: done.line, code: "bad-transaction-time", message });
    }
  }
  return sumDownloads(mine.map((r) => r.row));
}

/** The log Cumulus ETL takes: `log.ndjson`, else the one `log.*.ndjson*` (resolved names). */
async function findLog(
  dir: string,
  shown: string,
  problem: (p: Problem) => void,
): Promise<string | undefined> {
  const byName = new Map<string, string>();
  for await (const entry of Deno.readDir(dir)) {
    const real = await Deno.realPath(join(dir, entry.name)).catch(() => undefined);
    if (!real || !isLogName(basename(real))) continue;
    if ((await Deno.stat(real).catch(() => undefined))?.isFile) byName.set(basename(real), real);
  }
  const exact = byName.get("log.ndjson");
  if (exact) return exact;
  const names = [...byName.keys()].sort();
  if (names.length === 1) return byName.get(names[0]!);
  const message = names.length
    ? `no log.ndjson, and several log files (${names.join(", ")}): the ETL takes none`
    : "no log.ndjson: the ETL gets no group or export time";
  problem({ file: join(shown, "log.ndjson"), code: "no-log", message });
  return undefined;
}

function detail(row: Row): Row | undefined {
  return isObject(row.eventDetail) ? row.eventDetail : undefined;
}

function checkKickoff(
  kickoff: { line: number; row: Row },
  file: string,
  expect: LogExpectation,
  problem: (p: Problem) => void,
): void {
  const url = detail(kickoff.row)?.["exportUrl"];
  const at = { file, line: kickoff.line };
  if (typeof url !== "string" || !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url) || !URL.canParse(url)) {
    problem({
      ...at,
      code: "bad-export-url",
      message: `exportUrl ${show(url)} is not an absolute URL`,
    });
    return;
  }
  const group = groupOf(url);
  if (expect.crawl) {
    if (!group) {
      problem({ ...at, code: "wrong-group", message: "a crawl's exportUrl names no Group" });
    }
    return;
  }
  if (expect.group === undefined) return;
  let decoded = group;
  try {
    decoded = decodeURIComponent(group);
  } catch {
    // Not percent-encoded UTF-8: compared as it is.
  }
  if (decoded === (expect.group ?? "")) return;
  const message = expect.group === null
    ? `exportUrl names Group "${group}", but the folder's .metadata has no Group`
    : group === ""
    ? `exportUrl is not a Group export, but the folder's .metadata says Group "${expect.group}"`
    : `exportUrl names Group "${group}", but the folder's .metadata says "${expect.group}"`;
  problem({ ...at, code: "wrong-group", message });
}

/** The ETL's group name: the URL path without `/`, `/$export`, `/Patient`, after `/Group/`. */
function groupOf(url: string): string {
  let path = new URL(url).pathname;
  for (const suffix of ["/", "/$export", "/Patient"]) {
    if (path.endsWith(suffix)) path = path.slice(0, -suffix.length);
  }
  const pieces = path.split("/Group/");
  return pieces.length === 2 ? pieces[1]! : "";
}

const ISO = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:\.\d+)?)?(?:Z|[+-](\d\d):?(\d\d))$/;

/** `2024-05-01T10:00:00+00:00`, `...Z`, with or without seconds and fractions. */
export function isIsoWithOffset(text: string): boolean {
  const m = ISO.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((v) => Number(v ?? 0));
  const days = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  return month! >= 1 && month! <= 12 && day! >= 1 && day! <= days && hour! < 24 &&
    minute! < 60 && second! < 60 && Number(m[7] ?? 0) < 24 && Number(m[8] ?? 0) < 60;
}

/**
 * Rows per `itemType|type` from the last download_complete of each file URL; `allComplete` is
 * false when a requested URL never completed (a kill between a file's rename and its log row
 * loses the row, so then only fewer rows on disk than logged is a sure loss).
 */
function sumDownloads(rows: Row[]): LoggedDownloads {
  const requested = new Map<string, string>();
  const completed = new Map<string, number>();
  for (const row of rows) {
    const d = detail(row);
    const url = d?.["fileUrl"];
    if (typeof url !== "string") continue;
    if (row.eventId === "download_request") {
      requested.set(url, `${d!["itemType"]}|${d!["resourceType"]}`);
    } else if (row.eventId === "download_complete" && typeof d!["resourceCount"] === "number") {
      completed.set(url, d!["resourceCount"] as number);
    }
  }
  const out: LoggedDownloads = new Map();
  for (const [url, key] of requested) {
    const sum = out.get(key) ?? { rows: 0, files: 0, allComplete: true };
    const count = completed.get(url);
    if (count === undefined) sum.allComplete = false;
    else {
      sum.rows += count;
      sum.files++;
    }
    out.set(key, sum);
  }
  return out;
}
