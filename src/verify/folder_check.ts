/**
 * One folder given to `verify`: a managed folder (each numbered subfolder is an export the ETL
 * is pointed at, and the top level holds the links to the active files) or a plain output
 * folder (one export). Managed and plain are told apart by `.metadata`, as `status` does.
 */

import { basename, join } from "node:path";
import { lockStatus } from "../workspace/lock.ts";
import { readFolderKind, type Subfolder } from "../workspace/managed.ts";
import {
  METADATA_FILE,
  type OutputMetadata,
  parseOutputMetadata,
  readMetadataJson,
} from "../workspace/metadata.ts";
import { checkExport, type FileChecks, jobFor } from "./export_check.ts";
import { checkLinks } from "./links.ts";
import { isDataName, isLogName } from "./names.ts";
import type { Note, Problem } from "./problems.ts";
import { orderProblems } from "./report.ts";
import { codePointCompare, walkTree } from "./tree.ts";

/** What `verify` found in one folder. */
export interface FolderResult {
  /** The folder as given. */
  path: string;
  kind: "managed" | "output";
  /** No problem found. */
  ok: boolean;
  /** Data files checked (each once, links resolved), their rows and bytes on disk. */
  files: number;
  resources: number;
  bytes: number;
  /** Problems in file and line order. */
  problems: Problem[];
  /** Notes (not problems: they do not fail verify), in file order. */
  notes: Note[];
}

const NUMBERED = /^(\d+)\.(.+)$/;

/** Checks the folder `path` (a managed or output folder: the caller has made sure). */
export async function checkFolder(path: string, checks: FileChecks): Promise<FolderResult> {
  const problems: Problem[] = [];
  const problem = (p: Problem) => void problems.push(p);
  const notes: Note[] = [];
  const note = (n: Note) => void notes.push(n);
  const lock = await lockStatus(path);
  if (lock.held) {
    const who = lock.holder ? ` (pid ${lock.holder.pid} on ${lock.holder.host})` : "";
    const message = `a smart-fetch run${who} holds this folder: its files are still changing`;
    problem({ file: path, code: "in-use", message });
  }
  const kind = await readFolderKind(path);
  const files = new Set<string>();
  if (kind.kind === "managed") {
    const subs = await readSubfolders(path, problem);
    const units = subs.filter((s) => s.metadata).map((s) => ({
      dir: join(path, s.name),
      shown: join(path, s.name),
      metadata: s.metadata!,
      group: kind.metadata.group,
      subfolder: true,
    }));
    const [checked, top] = await Promise.all([
      inTurn(units, (u) => checkExport(u, checks, problem, note)),
      checkTopLevel(path, checks, problem),
    ]);
    for (const set of [...checked, top]) for (const real of set) files.add(real);
    const allRead = subs.every((s) => s.metadata);
    await checkLinks(path, path, allRead ? subs : undefined, problem);
  } else if (kind.kind === "output") {
    const unit = {
      dir: path,
      shown: path,
      metadata: kind.metadata,
      group: kind.metadata.group,
      subfolder: false,
    };
    for (const real of await checkExport(unit, checks, problem, note)) files.add(real);
  }
  let resources = 0, bytes = 0;
  for (const real of files) {
    const totals = checks.totals.get(real);
    resources += totals?.rows ?? 0;
    bytes += totals?.bytes ?? 0;
  }
  return {
    path,
    kind: kind.kind === "managed" ? "managed" : "output",
    ok: problems.length === 0,
    files: files.size,
    resources,
    bytes,
    problems: orderProblems(problems),
    notes: notes.sort((a, b) => codePointCompare(a.file, b.file)),
  };
}

/**
 * Exports checked two at a time: enough to keep every core busy while one export's last big
 * file is read, few enough that only two exports' id hashes are held at once.
 */
async function inTurn<T, R>(items: readonly T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const k = next++;
      out[k] = await run(items[k]!);
    }
  };
  await Promise.all([lane(), lane()]);
  return out;
}

/** The numbered subfolders with their metadata; one that cannot be read is a problem. */
async function readSubfolders(dir: string, problem: (p: Problem) => void): Promise<Subfolder[]> {
  const out: Subfolder[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = NUMBERED.exec(entry.name);
    if (!m || !entry.isDirectory) continue;
    const file = join(dir, entry.name, METADATA_FILE);
    let metadata: OutputMetadata | undefined;
    try {
      const json = await readMetadataJson(join(dir, entry.name));
      if (!json) {
        problem({ file, code: "bad-metadata", message: "missing: not an export subfolder" });
      } else metadata = parseOutputMetadata(json, join(dir, entry.name));
    } catch (err) {
      problem({ file, code: "bad-metadata", message: (err as Error).message.split("\n")[0]! });
    }
    out.push({ name: entry.name, number: Number(m[1]), nickname: m[2]!, metadata });
  }
  return out.sort((a, b) => a.number - b.number || a.name.localeCompare(b.name));
}

/**
 * A managed folder's top level, outside its subfolders: no temporary files, and any real data
 * file there (the links are checked apart) reads cleanly.
 */
async function checkTopLevel(
  dir: string,
  checks: FileChecks,
  problem: (p: Problem) => void,
): Promise<Set<string>> {
  const tree = await walkTree(dir, { skipTop: (name) => NUMBERED.test(name), followLinks: false });
  for (const rel of tree.temps) {
    const message =
      "a temporary file left by an interrupted write (rerun the export, or delete it)";
    problem({ file: join(dir, rel), code: "temp-file", message });
  }
  const data = tree.files.filter((f) =>
    isDataName(basename(f.real)) && !isLogName(basename(f.real))
  );
  await Promise.all(data.map(async (f) => {
    const report = await checks.check(jobFor(f.real, f.rel));
    for (const p of report.problems) problem({ file: join(dir, f.rel), ...p });
  }));
  return new Set(data.map((f) => f.real));
}
