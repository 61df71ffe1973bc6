/**
 * What disappeared since the last export, and which patients are new: compares a finished
 * export with the earlier ones of the same managed folder. Deletions are written as
 * `deleted/Bundle.<Type>.ndjson.gz`, one DELETE transaction Bundle per line, the form Cumulus ETL
 * applies.
 */

import { join } from "node:path";
import { ensureDir } from "./files.ts";
import type { Subfolder } from "./managed.ts";
import { previousExports } from "./history.ts";
import { IdIndex } from "./id_index.ts";
import { dataFilesOf, idsInFolder } from "./data_files.ts";
import { AtomicFileWriter } from "./ndjson_writer.ts";
import { readObjects } from "./ndjson_reader.ts";

/** Options for {@linkcode writeDeletions}. */
export interface DeletionOptions {
  /** The managed folder. */
  dir: string;
  subs: readonly Subfolder[];
  current: Subfolder;
  gzip: boolean;
}

/**
 * For every type the current export fetched in full (no since filter), the ids present in the
 * earlier exports it replaces but absent now. An incremental (since) export is never compared:
 * its unchanged resources are absent by design, not deleted. Returns the count per type.
 */
export async function writeDeletions(options: DeletionOptions): Promise<Map<string, number>> {
  const { dir, subs, current } = options;
  const md = current.metadata!;
  const counts = new Map<string, number>();
  for (const type of Object.keys(md.done ?? {})) {
    if (md.since !== null && (md.sinceResources ?? []).includes(type)) continue;
    const earlier = previousExports(subs, current.name, type, md.filters[type] ?? []);
    if (earlier.length === 0) continue;
    const now = await new IdIndex().addAll(idsInFolder(join(dir, current.name), type));
    const gone = new Set<string>();
    for (const sub of earlier) {
      for await (const id of idsInFolder(join(dir, sub.name), type)) {
        if (!now.has(id)) gone.add(id);
      }
    }
    if (gone.size === 0) continue;
    const folder = join(dir, current.name, "deleted");
    await ensureDir(folder);
    const writer = await AtomicFileWriter.create(
      join(folder, `Bundle.${type}.ndjson${options.gzip ? ".gz" : ""}`),
      { gzip: options.gzip },
    );
    const out = writer.out;
    const encoder = new TextEncoder();
    try {
      for (const id of [...gone].sort()) {
        const bundle = {
          resourceType: "Bundle",
          type: "transaction",
          entry: [{ request: { method: "DELETE", url: `${type}/${id}` } }],
        };
        await out.write(encoder.encode(JSON.stringify(bundle) + "\n"));
      }
      await out.close();
      await writer.commit();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    counts.set(type, gone.size);
  }
  return counts;
}

/** The ids a Patient says it absorbed (`link` of type `replaces`). */
function replacedIds(patient: Record<string, unknown>): string[] {
  const links = Array.isArray(patient.link) ? patient.link : [];
  return links
    .filter((l) => l?.type === "replaces" && typeof l?.other?.reference === "string")
    .map((l) => String(l.other.reference).replace(/^Patient\//, ""));
}

async function patientsIn(folder: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const name of await dataFilesOf(folder, "Patient")) {
    for await (const p of readObjects(join(folder, name))) {
      if (typeof p.id === "string") out.set(p.id, replacedIds(p));
    }
  }
  return out;
}

/**
 * The patients new in this export: ids no earlier comparable Patient export had, plus surviving
 * patients of a merge (a `replaces` link they did not have before), whose whole history must be
 * fetched again. Undefined when there is nothing earlier to compare with.
 */
export async function findNewPatients(
  options: Omit<DeletionOptions, "gzip">,
): Promise<string[] | undefined> {
  const { dir, subs, current } = options;
  const md = current.metadata!;
  if (!("Patient" in (md.done ?? {}))) return undefined;
  const earlier = previousExports(subs, current.name, "Patient", md.filters["Patient"] ?? []);
  if (earlier.length === 0) return undefined;
  const before = new Map<string, string[]>();
  // Oldest first, so the newest earlier version of a patient wins.
  for (const sub of [...earlier].reverse()) {
    for (const [id, links] of await patientsIn(join(dir, sub.name))) before.set(id, links);
  }
  const fresh: string[] = [];
  for (const [id, links] of await patientsIn(join(dir, current.name))) {
    const old = before.get(id);
    if (!old || links.some((l) => !old.includes(l))) fresh.push(id);
  }
  return fresh.sort();
}
