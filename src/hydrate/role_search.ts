/**
 * PractitionerRole by search: for each Practitioner in the folder,
 * `PractitionerRole?practitioner=<id>` (every page), into `PractitionerRole.searched`.
 * Practitioners already searched (named by a role in that file) are skipped, and roles whose id
 * is in any PractitionerRole file already are not written again.
 */

import { join } from "node:path";
import { fetchSearchPage } from "../crawl/search_page.ts";
import { ServerError, TransientError } from "../errors.ts";
import { dataFilesOf, readIds } from "../workspace/data_files.ts";
import { exists } from "../workspace/files.ts";
import { readLines, readObjects } from "../workspace/ndjson_reader.ts";
import { AtomicFileWriter } from "../workspace/ndjson_writer.ts";
import type { ReferenceRunOptions, TaskStats } from "./reference_run.ts";
import { referencesAt } from "./tasks.ts";

/** Runs the pract-practrole search task. */
export async function searchPractitionerRoles(
  name: string,
  o: ReferenceRunOptions,
): Promise<TaskStats> {
  const stats: TaskStats = {
    task: name,
    examined: 0,
    referenced: 0,
    present: 0,
    downloaded: 0,
    failed: 0,
    transient: 0,
  };
  const searchedFile = join(o.dir, `PractitionerRole.searched.ndjson${o.gzip ? ".gz" : ""}`);
  const searched = new Set<string>();
  if (await exists(searchedFile)) {
    for await (const role of readObjects(searchedFile)) {
      for (const r of referencesAt(role, "practitioner")) {
        searched.add(r.slice("Practitioner/".length));
      }
    }
  }
  const practitioners: string[] = [];
  for (const folder of new Set([o.sourceDir, o.dir])) {
    for (const file of await dataFilesOf(folder, "Practitioner")) {
      for await (const id of readIds(join(folder, file))) {
        stats.examined++;
        if (searched.has(id)) stats.present++;
        else if (!practitioners.includes(id)) practitioners.push(id);
      }
    }
  }
  stats.referenced = practitioners.length;
  if (practitioners.length === 0) return stats;
  const roles = new Set<string>();
  for (const folder of new Set([o.sourceDir, o.dir])) {
    for (const file of await dataFilesOf(folder, "PractitionerRole")) {
      for await (const id of readIds(join(folder, file))) roles.add(id);
    }
  }
  const writer = await AtomicFileWriter.create(searchedFile, { gzip: o.gzip });
  const out = writer.out;
  const encoder = new TextEncoder();
  try {
    if (await exists(searchedFile)) {
      for await (const line of readLines(searchedFile)) {
        await out.write(encoder.encode(line + "\n"));
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < practitioners.length) {
        const id = practitioners[next++]!;
        let url: string | undefined = `${o.http.baseUrl}/PractitionerRole?practitioner=${
          encodeURIComponent(id)
        }`;
        try {
          while (url) {
            const page = await fetchSearchPage(o.http, url);
            for (const role of page.resources) {
              if (role.resourceType !== "PractitionerRole" || typeof role.id !== "string") continue;
              if (roles.has(role.id)) continue;
              roles.add(role.id);
              await out.write(encoder.encode(JSON.stringify(role) + "\n"));
              stats.downloaded++;
            }
            url = page.next !== url ? page.next : undefined;
          }
        } catch (err) {
          if (!(err instanceof ServerError || err instanceof TransientError)) throw err;
          stats[err instanceof TransientError ? "transient" : "failed"]++;
          o.problems.push({
            diagnostics:
              `smart-fetch: the search PractitionerRole?practitioner=${id} failed: ${err.message}`,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
    await out.close();
    if (stats.downloaded > 0) await writer.commit();
    else await writer.abort();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return stats;
}
