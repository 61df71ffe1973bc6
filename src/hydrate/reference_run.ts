/**
 * Reference hydration: the resources a folder only references (`Practitioner/123`), downloaded
 * once. A group's tasks run together: their references are collected from the input files,
 * ids already in any file of the output type are dropped, the rest is fetched with every
 * connection busy, and each output file (`Practitioner.referenced.ndjson.gz`) is rewritten once
 * with the old rows and the new. Recursive tasks (hasMember, partOf) follow what they fetch,
 * cycles included, until nothing new appears. Failures are recorded, never fatal.
 */

import { join } from "node:path";
import { ServerError, TransientError } from "../errors.ts";
import type { HttpClient } from "../http/client.ts";
import type { Reporter } from "../log/events.ts";
import { dataFilesOf, readIds } from "../workspace/data_files.ts";
import { appendAtomically } from "../workspace/append_file.ts";
import { ensureDir } from "../workspace/files.ts";
import { readObjects } from "../workspace/ndjson_reader.ts";
import { AtomicFileWriter } from "../workspace/ndjson_writer.ts";
import type { Problem } from "../workspace/outcomes.ts";
import { referencesAt, type ReferenceTask } from "./tasks.ts";

/** What one task did. */
export interface TaskStats {
  task: string;
  /** Input resources read. */
  examined: number;
  /** Distinct targets they reference. */
  referenced: number;
  /** Targets already in the folder. */
  present: number;
  downloaded: number;
  failed: number;
  /** Failures worth a rerun (network, 5xx after retries). */
  transient: number;
}

/** Options for {@linkcode runReferenceTasks}. */
export interface ReferenceRunOptions {
  /** Where outputs go (and whose files count as present). */
  dir: string;
  /** Where inputs are read (default `dir`). */
  sourceDir: string;
  http: HttpClient;
  gzip: boolean;
  concurrency: number;
  reporter: Reporter;
  /** Collects failures for error/. */
  problems: Problem[];
}

/** An output file: `<Type>.<slug>`. */
function fileKey(type: string, slug: string): string {
  return `${type}.${slug}`;
}

/** Runs reference tasks together (one group). Returns each task's counts. */
export async function runReferenceTasks(
  tasks: readonly ReferenceTask[],
  o: ReferenceRunOptions,
): Promise<TaskStats[]> {
  const stats = new Map<string, TaskStats>(
    tasks.map((t) => [t.name, {
      task: t.name,
      examined: 0,
      referenced: 0,
      present: 0,
      downloaded: 0,
      failed: 0,
      transient: 0,
    }]),
  );
  // Wanted targets: "Type/id" -> the tasks that want it and the file it goes to.
  const wanted = new Map<string, { tasks: Set<string>; file: string }>();
  const want = (task: ReferenceTask, reference: string) => {
    const type = reference.slice(0, reference.indexOf("/"));
    if (!task.outputs.includes(type)) return;
    let w = wanted.get(reference);
    if (!w) wanted.set(reference, w = { tasks: new Set(), file: fileKey(type, task.slug) });
    if (!w.tasks.has(task.name)) {
      w.tasks.add(task.name);
      stats.get(task.name)!.referenced++;
    }
  };
  const inputs = [...new Set(tasks.map((t) => t.input))];
  for (const input of inputs) {
    const readers = tasks.filter((t) => t.input === input);
    for (const name of await dataFilesOf(o.sourceDir, input)) {
      for await (const resource of readObjects(join(o.sourceDir, name))) {
        if (resource.resourceType !== input) continue;
        for (const task of readers) {
          stats.get(task.name)!.examined++;
          for (const field of task.fields) {
            for (const r of referencesAt(resource, field)) want(task, r);
          }
        }
      }
    }
  }
  // Drops what any file of the output type in the folder holds already (exact ids), for the
  // references in `pending`; returns those left to fetch.
  const present = new Set<string>();
  const dropPresent = async (pending: string[]): Promise<string[]> => {
    const left = new Set(pending);
    for (const type of new Set(tasks.flatMap((t) => t.outputs))) {
      if (!pending.some((k) => k.startsWith(`${type}/`))) continue;
      for (const folder of new Set([o.dir, o.sourceDir])) {
        for (const name of await dataFilesOf(folder, type)) {
          for await (const id of readIds(join(folder, name))) {
            const key = `${type}/${id}`;
            if (!left.has(key)) continue;
            for (const t of wanted.get(key)!.tasks) stats.get(t)!.present++;
            left.delete(key);
            present.add(key);
          }
        }
      }
    }
    return [...left];
  };

  const writers = new Map<string, { writer: AtomicFileWriter; out: WritableStreamDefaultWriter }>();
  const newFile = async (key: string) => {
    let w = writers.get(key);
    if (!w) {
      await ensureDir(join(o.dir, ".hydrate", "new"));
      const writer = await AtomicFileWriter.create(join(o.dir, ".hydrate", "new", key), {
        gzip: false,
      });
      w = { writer, out: writer.out };
      writers.set(key, w);
    }
    return w.out;
  };
  const encoder = new TextEncoder();
  const done = new Set<string>();
  const recursive = tasks.filter((t) => t.recursive);
  /** References found while fetching (hasMember of a member): the next round's. */
  let found: string[] = [];
  const fetchOne = async (reference: string) => {
    const w = wanted.get(reference)!;
    const type = reference.slice(0, reference.indexOf("/"));
    const count = (field: "downloaded" | "failed" | "transient") => {
      for (const t of w.tasks) stats.get(t)![field]++;
    };
    try {
      const res = await o.http.json(`${o.http.baseUrl}/${reference}`, {
        headers: { Accept: "application/fhir+json" },
      });
      const body = res.body as Record<string, unknown> | null;
      if (!body || body.resourceType !== type) {
        throw new ServerError(
          `${reference} answered ${
            body && typeof body.resourceType === "string" ? `a ${body.resourceType}` : "no resource"
          }, not a ${type}`,
          { url: `${o.http.baseUrl}/${reference}`, status: res.status },
        );
      }
      await (await newFile(w.file)).write(encoder.encode(JSON.stringify(body) + "\n"));
      count("downloaded");
      o.reporter.emit({ type: "hydrate-target", task: [...w.tasks][0]!, ok: true });
      // hasMember of a member, partOf of a parent: follow them too (the seen sets end cycles).
      for (const task of recursive) {
        if (task.input !== type) continue;
        stats.get(task.name)!.examined++;
        for (const field of task.fields) {
          for (const r of referencesAt(body, field)) {
            if (wanted.has(r) || present.has(r) || done.has(r)) continue;
            want(task, r);
            if (wanted.has(r)) found.push(r);
          }
        }
      }
    } catch (err) {
      if (!(err instanceof ServerError || err instanceof TransientError)) throw err;
      count(err instanceof TransientError ? "transient" : "failed");
      o.reporter.emit({ type: "hydrate-target", task: [...w.tasks][0]!, ok: false });
      o.problems.push({
        diagnostics: `smart-fetch: could not download ${reference} (wanted by ${
          [...w.tasks].join(", ")
        }): ${err.message}`,
        code: err instanceof TransientError ? "transient" : "not-found",
      });
    }
  };
  // Rounds: what the input references, then what those references, until nothing new.
  for (let round = await dropPresent([...wanted.keys()]); round.length;) {
    let next = 0;
    const worker = async () => {
      while (next < round.length) {
        const reference = round[next++]!;
        if (done.has(reference)) continue;
        done.add(reference);
        await fetchOne(reference);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
    const more = found;
    found = [];
    round = await dropPresent(more.filter((r) => !done.has(r)));
  }
  for (const [key, { writer, out }] of writers) {
    await out.close();
    await writer.commit();
    await mergeInto(o.dir, key, o.gzip);
  }
  return [...stats.values()];
}

/** Appends `.hydrate/new/<key>` to `<key>.ndjson[.gz]` (one atomic rewrite), then removes it. */
async function mergeInto(dir: string, key: string, gzip: boolean): Promise<void> {
  const fresh = join(dir, ".hydrate", "new", key);
  const final = join(dir, `${key}.ndjson${gzip ? ".gz" : ""}`);
  await appendAtomically(final, fresh, gzip, false);
  await Deno.remove(fresh).catch(() => {});
}
