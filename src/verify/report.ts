/**
 * What `verify` prints: one line per problem (`<file>:<line>: <what is wrong> [code]`, or
 * `<file>: ...` where no line is at fault), at most {@linkcode MAX_PER_FILE} per file and then
 * one `and N more` line, then a summary; or, with `--json`, one JSON document.
 */

import { formatBytes } from "../log/time_format.ts";
import type { FolderResult } from "./folder_check.ts";
import { MAX_PER_FILE, type Note, type Problem } from "./problems.ts";
import { codePointCompare } from "./tree.ts";

/** Problems in file, then line order, each file's list capped (the rest counted in one line). */
export function orderProblems(problems: readonly Problem[]): Problem[] {
  const byFile = new Map<string, Problem[]>();
  for (const p of problems) byFile.set(p.file, [...(byFile.get(p.file) ?? []), p]);
  const out: Problem[] = [];
  for (const file of [...byFile.keys()].sort(codePointCompare)) {
    const list = byFile.get(file)!;
    let hidden = 0;
    const listed = list.filter((p) => {
      if (p.code !== "more-problems") return true;
      hidden += p.count ?? 0;
      return false;
    }).sort((a, b) =>
      (a.line ?? 0) - (b.line ?? 0) || a.code.localeCompare(b.code) ||
      a.message.localeCompare(b.message)
    );
    hidden += Math.max(0, listed.length - MAX_PER_FILE);
    out.push(...listed.slice(0, MAX_PER_FILE));
    if (hidden) {
      out.push({
        file,
        code: "more-problems",
        message: `and ${hidden.toLocaleString("en-US")} more problems in this file`,
        count: hidden,
      });
    }
  }
  return out;
}

/** Problems found, counting those not listed. */
export function problemCount(problems: readonly Problem[]): number {
  return problems.reduce((n, p) => n + (p.code === "more-problems" ? p.count ?? 0 : 1), 0);
}

/** One problem as a line of text. */
export function problemLine(p: Problem): string {
  return `${p.file}${p.line === undefined ? "" : `:${p.line}`}: ${p.message} [${p.code}]`;
}

const plural = (n: number, word: string) =>
  `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;

/**
 * `verify: 3 problems in 1 of 2 folders; 14 files, 1,201 resources, 12.3 MB checked`, and
 * `; 1 note` when there are notes.
 */
export function summaryLine(folders: readonly FolderResult[]): string {
  const problems = folders.reduce((n, f) => n + problemCount(f.problems), 0);
  const bad = folders.filter((f) => !f.ok).length;
  const files = folders.reduce((n, f) => n + f.files, 0);
  const resources = folders.reduce((n, f) => n + f.resources, 0);
  const bytes = folders.reduce((n, f) => n + f.bytes, 0);
  const head = problems
    ? `${plural(problems, "problem")} in ${bad} of ${plural(folders.length, "folder")}`
    : `${folders.length === 1 ? "the folder is" : `all ${folders.length} folders are`} whole`;
  const notes = folders.reduce((n, f) => n + f.notes.length, 0);
  return `verify: ${head}; ${plural(files, "file")}, ${plural(resources, "resource")}, ${
    formatBytes(bytes)
  } checked${notes ? `; ${plural(notes, "note")}` : ""}`;
}

/** The text output: problem lines, then note lines, then the summary line. */
export function textReport(folders: readonly FolderResult[]): string {
  const lines = folders.flatMap((f) => f.problems.map(problemLine));
  const notes = folders.flatMap((f) => f.notes.map(noteLine));
  return [...lines, ...notes, summaryLine(folders)].join("\n") + "\n";
}

/** One note as a line of text. */
export function noteLine(n: Note): string {
  return `${n.file}: note: ${n.message} [${n.code}]`;
}

/** The `--json` document. */
export function jsonReport(folders: readonly FolderResult[]): string {
  const doc = {
    ok: folders.every((f) => f.ok),
    folders: folders.map((f) => ({
      path: f.path,
      kind: f.kind,
      ok: f.ok,
      files: f.files,
      resources: f.resources,
      bytes: f.bytes,
      problemCount: problemCount(f.problems),
      problems: f.problems.map((p) => ({
        file: p.file,
        ...(p.line === undefined ? {} : { line: p.line }),
        code: p.code,
        message: p.message,
        ...(p.count === undefined ? {} : { count: p.count }),
      })),
      notes: f.notes.map((n) => ({ file: n.file, code: n.code, message: n.message })),
    })),
    summary: summaryLine(folders),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}
