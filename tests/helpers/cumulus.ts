/**
 * Reads an export folder exactly the way Cumulus ETL does (cumulus-etl 80262e0d with
 * cumulus-fhir-support 1fc0ee7f; /work/shared/reference/cumulus-contract.md sections a and b),
 * so tests can assert what the ETL would load and catch the traps that silently lose data.
 */

import { basename, join, sep } from "node:path";
import { gunzipSync } from "node:zlib";
import { ETL_TASK_TYPES, R4_RESOURCE_TYPES } from "./r4_types.ts";

type Row = Record<string, unknown>;

/** One file in the ETL's listing: an accepted name, typed by its name or its first line. */
export interface CumulusFile {
  /** Path relative to the folder as found (through a link only when the target is elsewhere). */
  path: string;
  /** The link-resolved path: its name, not the link's, drives the type and the flat copy. */
  resolvedPath: string;
  /** The resource type, or null when the first line has no resourceType (never read). */
  type: string | null;
  /** Rows of the file's type, i.e. what the ETL reads from the file if it reads it. */
  rows: number;
}

/** What Cumulus ETL would see in a folder. */
export interface CumulusView {
  files: CumulusFile[];
  /**
   * type -> id -> resource, as the ETL tasks load them: only flat-copy survivors, read in the
   * flat folder's (base-name) order, later rows winning. A type is present when its task runs.
   */
  resources: Map<string, Map<string, Row>>;
  /** type -> ids deleted by `<folder>/deleted/` transaction Bundles. */
  deleted: Map<string, Set<string>>;
  /** Task-type files sharing a base name; `paths` in resolved-path order, the last one survives. */
  collisions: { baseName: string; paths: string[] }[];
  /** From the last kickoff's exportUrl: the part after /Group/, "" for other exports. */
  group: string | undefined;
  /** The last status_complete's transactionTime, as written. */
  exportTime: string | undefined;
  exportUrl: string | undefined;
  /** Why log.ndjson gives no group and time; `crash` when the ETL dies instead. */
  logError?: { message: string; crash: boolean };
  /** Data the ETL drops: skipped lines, dropped rows, ignored or untyped files. */
  warnings: string[];
  /** Files (or their remainder) the ETL cannot read. */
  errors: string[];
}

/** Python's str order (code points), which the ETL sorts paths by. */
function pyCompare(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < x.length && i < y.length; i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d) return d;
  }
  return x.length - y.length;
}

const isObject = (v: unknown): v is Row => typeof v === "object" && v !== null && !Array.isArray(v);
const describe = (v: unknown) => JSON.stringify(v)?.slice(0, 60) ?? String(v);
const errorText = (e: unknown) => e instanceof Error ? e.message : String(e);

/** pathlib `suffixes` (Python 3.11), lower-cased: leading dots are no suffix, a trailing dot none. */
function suffixes(name: string): string[] {
  if (name.endsWith(".")) return [];
  return name.replace(/^\.+/, "").split(".").slice(1).map((s) => `.${s.toLowerCase()}`);
}

/** Last suffix `.ndjson`/`.jsonl`, or those followed by `.gz`; anything else is ignored. */
function isAcceptedName(name: string): boolean {
  const s = suffixes(name);
  const json = (x: string | undefined) => x === ".ndjson" || x === ".jsonl";
  return json(s.at(-1)) || (s.at(-1) === ".gz" && json(s.at(-2)));
}

/** The type a file name gives: exactly one piece (split on non-letters) naming an R4 type. */
function typeFromName(name: string): string | undefined {
  const hits = name.split(/[^A-Za-z]+/).filter((piece) => R4_RESOURCE_TYPES.has(piece));
  return hits.length === 1 ? hits[0] : undefined;
}

/**
 * Every file under `top` at any depth, dot-folders included, links to files and folders followed
 * (a visited set stops loops; dangling links are skipped). Maps resolved path -> path relative to
 * `top`, preferring a direct path over one through a link. Empty when `top` does not exist.
 */
async function listTree(top: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const realTop = await Deno.realPath(top).catch(() => undefined);
  if (!realTop) return found;
  const visited = new Set([realTop]);
  const inTree = (p: string) => p === realTop || p.startsWith(realTop + sep);
  async function visit(dir: string, rel: string): Promise<void> {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    } catch {
      return;
    }
    for (const name of names.sort(pyCompare)) {
      const relPath = rel ? `${rel}/${name}` : name;
      const real = await Deno.realPath(join(dir, name)).catch(() => undefined);
      const info = real ? await Deno.stat(real).catch(() => undefined) : undefined;
      if (!real || !info) continue;
      const direct = real === join(realTop!, relPath);
      if (info.isDirectory) {
        // A linked folder inside the tree is walked directly anyway; elsewhere, once.
        if (!direct && (inTree(real) || visited.has(real))) continue;
        visited.add(real);
        await visit(real, relPath);
      } else if (info.isFile && (direct || !found.has(real))) {
        found.set(real, relPath);
      }
    }
  }
  await visit(realTop, "");
  return found;
}

function splitLines(bytes: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, start)) {
    lines.push(bytes.subarray(start, i));
    start = i + 1;
  }
  lines.push(bytes.subarray(start));
  return lines;
}

/** The file's lines, gunzipped when (and only when) its name ends in `.gz`, like the ETL. */
async function readLines(path: string, rel: string, errors: string[]) {
  try {
    const bytes = await Deno.readFile(path);
    const gzip = suffixes(basename(path)).at(-1) === ".gz";
    if (!gzip && bytes[0] === 0x1f && bytes[1] === 0x8b) throw new Error("gzip data, no .gz name");
    return splitLines(gzip ? gunzipSync(bytes) : bytes);
  } catch (e) {
    errors.push(`${rel}: cannot read (${errorText(e)}); the ETL gets nothing from it`);
    return undefined;
  }
}

const UTF8 = new TextDecoder("utf-8", { fatal: true }); // drops a BOM, as Python's json does

/** A line without its trailing CR/LF bytes, decoded (throws on bad UTF-8). */
function lineText(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end && (bytes[end - 1] === 13 || bytes[end - 1] === 10)) end--;
  return UTF8.decode(bytes.subarray(0, end));
}

/** cfs `read_multiline_json`: blank lines skipped, bad JSON skipped, bad UTF-8 ends the file. */
function jsonLines(lines: Uint8Array[], rel: string, view: CumulusView) {
  const out: { line: number; value: unknown }[] = [];
  for (const [i, bytes] of lines.entries()) {
    let text: string;
    try {
      text = lineText(bytes);
    } catch {
      view.errors.push(`${rel}:${i + 1}: not UTF-8; the ETL reads no further`);
      break;
    }
    try {
      if (text) out.push({ line: i + 1, value: JSON.parse(text) });
    } catch {
      view.warnings.push(`${rel}:${i + 1}: not JSON; the ETL skips the line`);
    }
  }
  return out;
}

/** Other names the ETL takes for an export log (Python `re.match(r"log\..+\.ndjson")`). */
const LOG_GLOB = /^log\.[^\n]+\.ndjson/;

/** Lists one accepted file like cfs and reads its rows; undefined when the ETL ignores it. */
async function readDataFile(path: string, rel: string, view: CumulusView) {
  const lines = await readLines(path, rel, view.errors);
  let type: string | undefined = typeFromName(basename(path));
  if (!type) { // no type word in the name: the first line decides
    if (!lines) return undefined;
    let head: unknown;
    try {
      const first = lineText(lines[0]!);
      if (!first) {
        const more = lines.some((l) => l.some((b) => b !== 10 && b !== 13));
        if (more) view.warnings.push(`${rel}: first line is empty, so the ETL ignores the file`);
        return undefined;
      }
      head = JSON.parse(first);
    } catch {
      view.warnings.push(`${rel}: first line is not JSON, so the ETL ignores the file`);
      return undefined;
    }
    const t = isObject(head) ? head.resourceType : undefined;
    if (typeof t !== "string" || !t) { // listed without a type; harmless for an export log
      if (basename(path) !== "log.ndjson" && !LOG_GLOB.test(basename(path))) {
        view.warnings.push(`${rel}: first line has no resourceType; the ETL never reads the file`);
      }
      return { type: null, rows: [] };
    }
    type = t;
  }
  const rows: Row[] = [];
  for (const { line, value } of lines ? jsonLines(lines, rel, view) : []) {
    if (isObject(value) && value.resourceType === type) {
      rows.push(value);
    } else {
      view.warnings.push(`${rel}:${line}: ${describe(value)} is not a ${type}; the ETL drops it`);
    }
  }
  return { type, rows };
}

/** Reads `folder` by Cumulus ETL's rules: listing, flat copy, deleted/, log.ndjson. */
export async function readLikeCumulus(folder: string): Promise<CumulusView> {
  if (!(await Deno.stat(folder).catch(() => undefined))?.isDirectory) {
    throw new Error(`Cannot read "${folder}" like Cumulus ETL: not a folder`);
  }
  const view: CumulusView = {
    files: [],
    resources: new Map(),
    deleted: new Map(),
    collisions: [],
    group: undefined,
    exportTime: undefined,
    exportUrl: undefined,
    warnings: [],
    errors: [],
  };
  const found = await listTree(folder);
  const rowsOf = new Map<string, { type: string | null; rows: Row[] }>();
  for (const resolvedPath of [...found.keys()].sort(pyCompare)) {
    const path = found.get(resolvedPath)!;
    if (!isAcceptedName(basename(resolvedPath))) continue;
    const read = await readDataFile(resolvedPath, path, view);
    if (!read) continue;
    view.files.push({ path, resolvedPath, type: read.type, rows: read.rows.length });
    rowsOf.set(resolvedPath, read);
  }

  // Flat copy: task-type files go into one folder by base name; the last path sorted wins.
  const byBase = new Map<string, string[]>();
  for (const f of view.files) {
    if (!f.type || !ETL_TASK_TYPES.has(f.type)) continue;
    const base = basename(f.resolvedPath);
    byBase.set(base, [...(byBase.get(base) ?? []), f.resolvedPath]);
  }
  for (const [baseName, paths] of [...byBase].sort(([a], [b]) => pyCompare(a, b))) {
    const named = paths.map((p) => found.get(p)!);
    if (named.length > 1) view.collisions.push({ baseName, paths: named });
    const { type, rows } = rowsOf.get(paths.at(-1)!)!;
    const byId = view.resources.get(type!) ?? new Map<string, Row>();
    view.resources.set(type!, byId);
    for (const row of rows) byId.set(String(row.id), row);
  }

  // deleted/: only <folder>/deleted (any depth below it), only files classed as Bundle.
  const deletedFiles = await listTree(join(folder, "deleted"));
  for (const resolvedPath of [...deletedFiles.keys()].sort(pyCompare)) {
    const read = rowsOf.get(resolvedPath);
    if (read?.type !== "Bundle") continue;
    for (const bundle of read.rows.filter((b) => b.type === "transaction")) {
      for (const entry of Array.isArray(bundle.entry) ? bundle.entry : []) {
        const request = isObject(entry) && isObject(entry.request) ? entry.request : {};
        const url = request.url;
        if (request.method !== "DELETE" || typeof url !== "string") continue;
        const parts = url.split("/");
        if (parts.length !== 2) continue; // absolute URLs, _history and the like are ignored
        const ids = view.deleted.get(parts[0]!) ?? new Set<string>();
        view.deleted.set(parts[0]!, ids.add(parts[1]!));
      }
    }
  }

  await readLog(folder, view);
  // The log was also sniffed as a listed file: report its problems once.
  [view.warnings, view.errors] = [[...new Set(view.warnings)], [...new Set(view.errors)]];
  return view;
}

/** A reason the log gives no group and time; `crash` when the ETL dies instead. */
class LogProblem extends Error {
  constructor(message: string, readonly crash = false) {
    super(
      crash ? `${message}; this crashes the ETL` : `${message}; the ETL then has no group and ` +
        "export time, and stops (exit 34) unless --export-group and --export-timestamp are given",
    );
  }
}

/** Python truthiness of a JSON value. */
const pyTruthy = (v: unknown) =>
  isObject(v) ? Object.keys(v).length > 0 : Array.isArray(v) ? v.length > 0 : Boolean(v);

/** Python `==` on JSON values (True == 1); objects compared by their JSON text. */
function pyEquals(a: unknown, b: unknown): boolean {
  const num = (v: unknown) => typeof v === "boolean" ? Number(v) : v;
  return JSON.stringify(num(a)) === JSON.stringify(num(b));
}

/** Finds log.ndjson at the top of the folder (names of resolved links) and parses it. */
async function readLog(folder: string, view: CumulusView): Promise<void> {
  const byName = new Map<string, string>();
  const entries: string[] = [];
  for await (const entry of Deno.readDir(folder)) entries.push(entry.name);
  for (const name of entries.sort(pyCompare)) {
    const real = await Deno.realPath(join(folder, name)).catch(() => undefined);
    if (real) byName.set(basename(real), real);
  }
  try {
    let path = byName.get("log.ndjson");
    if (!path) {
      const logs = [...byName.keys()].filter((n) => LOG_GLOB.test(n));
      if (logs.length > 1) throw new LogProblem(`several log files (${logs.sort().join(", ")})`);
      if (!logs.length) throw new LogProblem("no log.ndjson (nor a single log.*.ndjson)");
      path = byName.get(logs[0]!)!;
    }
    const rel = basename(path);
    const lines = await readLines(path, rel, view.errors);
    const rows = jsonLines(lines ?? [], rel, view).map((l) => l.value);
    let exportId: unknown;
    for (const row of rows) {
      if (!isObject(row)) throw new LogProblem(`${rel}: a line holds ${describe(row)}`, true);
      if (row.eventId === "kickoff") exportId = row.exportId;
    }
    if (!pyTruthy(exportId)) throw new LogProblem(`${rel}: no kickoff event with an exportId`);
    let exportTime: string | undefined;
    for (const row of rows as Row[]) {
      if (!pyEquals(row.exportId, exportId)) continue;
      if (row.eventId !== "kickoff" && row.eventId !== "status_complete") continue;
      const key = row.eventId === "kickoff" ? "exportUrl" : "transactionTime";
      const where = `${rel}: ${row.eventId} of export ${describe(exportId)}`;
      if (!Object.hasOwn(row, "eventDetail")) throw new LogProblem(`${where} has no eventDetail`);
      const detail = row.eventDetail;
      if (!isObject(detail)) throw new LogProblem(`${where}: eventDetail is not an object`, true);
      if (!Object.hasOwn(detail, key)) throw new LogProblem(`${where} has no eventDetail.${key}`);
      const value = detail[key];
      if (row.eventId === "kickoff") {
        view.group = groupFromUrl(value, where);
        view.exportUrl = value as string;
      } else if (typeof value !== "string" || !isPythonIsoDateTime(value)) {
        throw new LogProblem(`${where}: transactionTime ${describe(value)} is not ISO 8601`, true);
      } else {
        exportTime = value;
      }
    }
    if (exportTime === undefined) {
      throw new LogProblem(`${rel}: no status_complete for export ${describe(exportId)}`);
    }
    view.exportTime = exportTime;
  } catch (e) {
    if (!(e instanceof LogProblem)) throw e;
    view.logError = { message: e.message, crash: e.crash };
    view.group = view.exportUrl = view.exportTime = undefined;
  }
}

/** What Python's urlsplit strips first: leading C0 controls and spaces. */
// deno-lint-ignore no-control-regex
const URL_JUNK = /^[\x00-\x20]+/;

/** The ETL's FhirUrl(url).group: Python urlsplit path, bulk suffixes stripped, after /Group/. */
function groupFromUrl(url: unknown, where: string): string {
  const text = typeof url === "string" ? url.replace(URL_JUNK, "").replace(/[\t\r\n]/g, "") : "";
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(text);
  if (!scheme) {
    throw new LogProblem(`${where}: exportUrl ${describe(url)} is not a URL with a scheme`, true);
  }
  let rest = text.slice(scheme[0].length).split("#")[0]!.split("?")[0]!;
  if (rest.startsWith("//")) rest = rest.slice(2).replace(/^[^/]*/, "");
  for (const suffix of ["/", "/$export", "/Patient"]) {
    if (rest.endsWith(suffix)) rest = rest.slice(0, -suffix.length);
  }
  const pieces = rest.split("/Group/");
  return pieces.length === 2 ? pieces[1]! : "";
}

/** HH[:MM[:SS[.f+]]] or HH[MM[SS[.f+]]], as Python's fromisoformat takes times and offsets. */
const ISO_TIME = /^(\d\d)(?:(:?)(\d\d)(?:\2(\d\d)(?:[.,]\d+)?)?)?$/;

/** Whether Python 3.11 `datetime.fromisoformat` accepts `value` (ISO week dates aside). */
function isPythonIsoDateTime(value: string): boolean {
  const m = /^(\d{4})(-?)(\d\d)\2(\d\d)(?:[^](.*))?$/su.exec(value); // any separator character
  if (!m) return false;
  const year = +m[1]!, month = +m[3]!, day = +m[4]!;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (year < 1 || !days || day < 1 || day > days) return false;
  if (m[5] === undefined) return true;
  const zone = /[-+Z]/.exec(m[5]);
  const time = ISO_TIME.exec(zone ? m[5].slice(0, zone.index) : m[5]);
  if (!time || +time[1]! > 23 || +(time[3] ?? 0) > 59 || +(time[4] ?? 0) > 59) return false;
  if (!zone) return true;
  const offset = m[5].slice(zone.index + 1);
  if (zone[0] === "Z") return offset === "";
  const tz = ISO_TIME.exec(offset);
  return !!tz && +tz[1]! * 3600 + +(tz[3] ?? 0) * 60 + +(tz[4] ?? 0) < 86400;
}

/** Options of {@linkcode assertCumulusReadable}. */
export interface AssertCumulusOptions {
  /** Fail when log.ndjson gives the ETL no group and export time. @default true */
  requireLog?: boolean;
  /** Accept a folder in which no ETL task finds any resource. @default false */
  allowNoData?: boolean;
}

/** Temporary-file name patterns: a listed file matching one was caught mid-write. */
const IN_PROGRESS = /\.(?:part|partial|tmp|temp|incomplete|crdownload)(?=[./]|$)/i;

/** Reads `folder` like Cumulus ETL and throws, listing every problem, if it would lose data. */
export async function assertCumulusReadable(
  folder: string,
  options: AssertCumulusOptions = {},
): Promise<CumulusView> {
  const { requireLog = true, allowNoData = false } = options;
  const view = await readLikeCumulus(folder);
  const problems = [
    ...view.collisions.map((c) =>
      `${c.paths.join(" and ")} share the name ${c.baseName}: the ETL copies them into one ` +
      `folder and reads only ${c.paths.at(-1)}`
    ),
    ...view.errors.map((e) => `read error: ${e}`),
    ...view.warnings.map((w) => `data dropped: ${w}`),
  ];
  for (const f of view.files) {
    if (IN_PROGRESS.test(f.path) || IN_PROGRESS.test(basename(f.resolvedPath))) {
      problems.push(`${f.path} looks like an in-progress file, yet the ETL reads it`);
    }
  }
  if (requireLog && view.logError) problems.push(`log: ${view.logError.message}`);
  const count = [...view.resources.values()].reduce((n, byId) => n + byId.size, 0);
  if (!allowNoData && count === 0) problems.push("no ETL task would find any resource");
  if (problems.length) {
    throw new Error(`Cumulus ETL would not read "${folder}" cleanly:\n- ${problems.join("\n- ")}`);
  }
  return view;
}
