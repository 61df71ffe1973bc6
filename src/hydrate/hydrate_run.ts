/**
 * Hydrating a folder: the selected task groups in SMART Fetch's order (inline in place,
 * references into `<Type>.<slug>.ndjson.gz`), then again while a pass downloaded anything new,
 * since new resources may reference more (Encounter -> Practitioner -> PractitionerRole ->
 * Location -> Organization). Failures go to error/ and the summary, never stop the run.
 */

import { join } from "node:path";
import type { HttpClient } from "../http/client.ts";
import { Messages, type Reporter } from "../log/events.ts";
import { dataFilesOf } from "../workspace/data_files.ts";
import { appendOutcomes, type Problem } from "../workspace/outcomes.ts";
import { inlineFile } from "./inline_file.ts";
import { runReferenceTasks, type TaskStats } from "./reference_run.ts";
import { searchPractitionerRoles } from "./role_search.ts";
import { type ReferenceTask, TASK_GROUPS } from "./tasks.ts";

/** Options for {@linkcode runHydration}. */
export interface HydrateOptions {
  /** The folder to hydrate (outputs are written here). */
  dir: string;
  /** Where reference tasks read their inputs. @default dir */
  sourceDir?: string;
  http: HttpClient;
  gzip: boolean;
  concurrency: number;
  reporter: Reporter;
  /** Task groups, any order (they run in SMART Fetch's). */
  groups: readonly string[];
  /** Mimetypes to inline, lower-case. */
  mimetypes: ReadonlySet<string>;
  maxAttachmentBytes: number;
  /** Passes at most: a pass that downloads nothing ends it. @default 8 */
  maxPasses?: number;
}

/** What hydration did. */
export interface HydrateResult {
  /** Per task, summed over passes. */
  tasks: TaskStats[];
  /** Types that got new resources. */
  produced: Set<string>;
  /** Failures worth a rerun (network, 5xx after retries). */
  transient: number;
  failed: number;
}

function add(into: Map<string, TaskStats>, s: TaskStats): void {
  const t = into.get(s.task);
  if (!t) return void into.set(s.task, { ...s });
  t.examined += s.examined;
  t.referenced += s.referenced;
  t.present += s.present;
  t.downloaded += s.downloaded;
  t.failed += s.failed;
  t.transient += s.transient;
}

/** Hydrates `dir`. */
export async function runHydration(o: HydrateOptions): Promise<HydrateResult> {
  const say = new Messages(o.reporter);
  const sourceDir = o.sourceDir ?? o.dir;
  const problems: Problem[] = [];
  const totals = new Map<string, TaskStats>();
  const produced = new Set<string>();
  const selected = [...TASK_GROUPS].filter(([name]) => o.groups.includes(name));
  // Stale work of a killed run (never the inline cache: it lets a rerun continue).
  await Deno.remove(join(o.dir, ".hydrate", "new"), { recursive: true }).catch(() => {});
  o.reporter.emit({ type: "phase", phase: "hydrating" });
  const base = { dir: o.dir, sourceDir, http: o.http, gzip: o.gzip, concurrency: o.concurrency };

  for (let pass = 0; pass < (o.maxPasses ?? 8); pass++) {
    let downloaded = 0;
    for (const [group, tasks] of selected) {
      for (const task of tasks) {
        if (task.kind !== "inline" || pass > 0) continue;
        const files = await dataFilesOf(o.dir, task.input);
        if (files.length === 0) continue;
        o.reporter.emit({
          type: "hydrate-task",
          task: task.name,
          detail: `${task.input} attachments, in place`,
        });
        const stats: TaskStats = {
          task: task.name,
          examined: 0,
          referenced: 0,
          present: 0,
          downloaded: 0,
          failed: 0,
          transient: 0,
        };
        for (const file of files) {
          const got = await inlineFile(join(o.dir, file), {
            http: o.http,
            dir: o.dir,
            mimetypes: o.mimetypes,
            maxBytes: o.maxAttachmentBytes,
            concurrency: o.concurrency,
            reporter: o.reporter,
            problems,
          });
          stats.examined += got.examined;
          stats.present += got.present;
          stats.downloaded += got.inlined;
          stats.failed += got.failed + got.tooLarge;
          stats.transient += got.transient;
          stats.referenced += got.inlined + got.failed + got.tooLarge + got.transient +
            got.present;
        }
        add(totals, stats);
      }
      const refs = tasks.filter((t): t is ReferenceTask => t.kind === "reference");
      const withInput: ReferenceTask[] = [];
      for (const t of refs) {
        const inSource = (await dataFilesOf(sourceDir, t.input)).length > 0;
        if (inSource) withInput.push(t);
      }
      if (withInput.length) {
        o.reporter.emit({
          type: "hydrate-task",
          task: group,
          detail: `references to ${[...new Set(withInput.flatMap((t) => t.outputs))].join(", ")}`,
        });
        for (
          const s of await runReferenceTasks(withInput, { ...base, reporter: o.reporter, problems })
        ) {
          add(totals, s);
          downloaded += s.downloaded;
          if (s.downloaded) {
            for (const t of withInput.find((x) => x.name === s.task)!.outputs) produced.add(t);
          }
        }
      }
      const search = tasks.find((t) => t.kind === "search");
      if (search && (await dataFilesOf(o.dir, "Practitioner")).length) {
        o.reporter.emit({
          type: "hydrate-task",
          task: search.name,
          detail: "PractitionerRole?practitioner=<id> searches",
        });
        const s = await searchPractitionerRoles(search.name, {
          ...base,
          reporter: o.reporter,
          problems,
        });
        add(totals, s);
        downloaded += s.downloaded;
        if (s.downloaded) produced.add("PractitionerRole");
      }
    }
    if (downloaded === 0) break;
    say.verbose(`Hydration pass ${pass + 1} downloaded ${downloaded} resources; looking again.`);
  }
  await appendOutcomes(o.dir, problems, o.gzip);
  const tasks = [...totals.values()];
  const transient = tasks.reduce((n, t) => n + t.transient, 0);
  if (transient === 0) {
    await Deno.remove(join(o.dir, ".hydrate"), { recursive: true }).catch(() => {});
  }
  return { tasks, produced, transient, failed: tasks.reduce((n, t) => n + t.failed, 0) };
}

/** The closing table: one row per task that looked at anything. */
export function hydrationTable(result: HydrateResult): string {
  const rows = [["TASK", "EXAMINED", "REFERENCED", "ALREADY PRESENT", "DOWNLOADED", "FAILED"]];
  for (const t of result.tasks) {
    if (t.examined === 0 && t.referenced === 0) continue;
    rows.push([
      t.task,
      String(t.examined),
      String(t.referenced),
      String(t.present),
      String(t.downloaded),
      String(t.failed + t.transient),
    ]);
  }
  if (rows.length === 1) return "Hydration: nothing to hydrate.\n";
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") +
    "\n";
}

/** Types that hydration output files of `dir` hold (`Practitioner.referenced.ndjson.gz`, ...). */
export async function hydratedTypesIn(dir: string): Promise<string[]> {
  const types = new Set<string>();
  for await (const e of Deno.readDir(dir)) {
    const m = /^([A-Z][A-Za-z]+)\.(referenced|results|members|searched)\.ndjson(\.gz)?$/.exec(
      e.name,
    );
    if (m && e.isFile) types.add(m[1]!);
  }
  return [...types].sort();
}
