/**
 * The first step of a crawl: the cohort's Patients. From a Group (or the whole system) by a bulk
 * export of Patient, from an ID file or list by searches, or from the Patient files of a folder.
 * The crawl's folder is written ("bound") only once the cohort is known: a Group the server
 * refuses, or IDs that match nobody, leave nothing behind. A resumed crawl reads the cohort back
 * from the Patient files it saved.
 */

import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { BulkExporter } from "../bulk/exporter.ts";
import type { ExportLevel } from "../bulk/kickoff.ts";
import type { Clock } from "../clock.ts";
import { type Resolution, resolveCohort } from "../cohort/resolve.ts";
import { SmartFetchError } from "../errors.ts";
import { isoLocalMicros } from "../log/time_format.ts";
import type { Capabilities } from "../fhir/capability.ts";
import type { HttpClient } from "../http/client.ts";
import { Messages, type Reporter } from "../log/events.ts";
import type { ExportLog } from "../log/export_log.ts";
import { dataFilesOf, readIds } from "../workspace/data_files.ts";
import { writeFileAtomic } from "../workspace/files.ts";
import type { OutputMetadataStore } from "../workspace/metadata.ts";
import { AtomicFileWriter } from "../workspace/ndjson_writer.ts";

/** Where the cohort comes from. */
export type CohortSource =
  | { kind: "ids"; ids: string[]; system: string | undefined; name: string | undefined }
  | { kind: "bulk"; level: ExportLevel }
  | { kind: "folder"; dir: string };

/** The file that lists the IDs that matched no Patient, one per line. */
export const UNMATCHED_FILE = "unmatched-ids.txt";

/** What a cohort step needs. */
export interface CohortStepOptions {
  dir: string;
  source: CohortSource;
  store: OutputMetadataStore;
  log: ExportLog;
  bind: () => Promise<void>;
  http: HttpClient;
  capabilities: Capabilities;
  reporter: Reporter;
  clock: Clock;
  gzip: boolean;
  concurrency: number;
  /** Patient type filters (query strings). */
  patientFilters: readonly string[];
  /** Whether Patient is a requested type (then it is marked done with the cohort). */
  patientRequested: boolean;
  kickoff: "GET" | "POST";
  maxWaitMs: number;
}

/** Patient ids of the Patient files of `dir`, in file and row order, each once. */
export async function patientIdsIn(dir: string): Promise<string[]> {
  const seen = new Set<string>();
  for (const name of await dataFilesOf(dir, "Patient")) {
    for await (const id of readIds(join(dir, name))) seen.add(id);
  }
  return [...seen];
}

/** A small in-memory store of rows, gzipped per megabyte (a cohort of 100k fits in ~20 MB). */
class RowBuffer {
  #members: Uint8Array[] = [];
  #chunk: string[] = [];
  #size = 0;
  add(row: string): void {
    this.#chunk.push(row);
    this.#size += row.length + 1;
    if (this.#size > 1024 * 1024) this.#seal();
  }
  #seal(): void {
    if (!this.#chunk.length) return;
    this.#members.push(gzipSync(new TextEncoder().encode(this.#chunk.join("\n") + "\n")));
    this.#chunk = [];
    this.#size = 0;
  }
  /** Writes every row to `path` (crash-safe). */
  async writeTo(path: string, gzip: boolean): Promise<void> {
    this.#seal();
    const writer = await AtomicFileWriter.create(path, { gzip });
    const out = writer.out;
    try {
      for (const m of this.#members) await out.write(new Uint8Array(gunzipSync(m)));
      await out.close();
      await writer.commit();
    } catch (err) {
      await writer.abort();
      throw err;
    }
  }
}

/** A cohort's summary, for the run's summary and `.metadata`. */
export function cohortReport(source: CohortSource, r: Resolution | undefined, patients: number) {
  const multiple = r ? [...r.multiple].slice(0, 100) : [];
  return {
    source: source.kind,
    ...(source.kind === "ids" ? { ids: source.ids.length } : {}),
    patients,
    ...(r
      ? {
        unmatched: r.unmatched.length,
        multiple: r.multiple.size,
        multipleMatches: Object.fromEntries(multiple),
        requests: r.requests,
        batched: r.batched,
      }
      : {}),
  };
}

/**
 * Settles the cohort: reads it back when an earlier run saved it, else resolves it, binds the
 * folder and saves it. Returns the patient ids in their saved order.
 */
export async function settleCohort(o: CohortStepOptions): Promise<string[]> {
  const say = new Messages(o.reporter);
  const saved = o.store.current.crawl?.cohort;
  if (saved) {
    return await patientIdsIn(o.source.kind === "folder" ? o.source.dir : o.dir);
  }
  o.reporter.emit({ type: "phase", phase: "cohort" });
  const { source } = o;
  let resolution: Resolution | undefined;
  if (source.kind === "bulk") {
    // The Group's Patients by bulk export: the bulk code's resume and checks, bound at its 202.
    await new BulkExporter({
      http: o.http,
      dir: o.dir,
      store: o.store,
      log: o.log,
      reporter: o.reporter,
      capabilities: o.capabilities,
      clock: o.clock,
      level: source.level,
      types: ["Patient"],
      typeFilters: o.patientFilters.map((f) => `Patient?${f}`),
      method: o.kickoff,
      gzip: o.gzip,
      concurrency: o.concurrency,
      maxWaitMs: o.maxWaitMs,
      bind: o.bind,
    }).run();
  } else if (source.kind === "ids") {
    const rows = new RowBuffer();
    resolution = await resolveCohort(source.ids, {
      http: o.http,
      system: source.system,
      filters: o.patientFilters,
      concurrency: o.concurrency,
      onPatient: (p) => rows.add(JSON.stringify(p)),
    });
    // An empty ID list is export's deliberate case (every patient left: all reported deleted).
    if (resolution.patients === 0 && source.ids.length > 0) {
      throw new SmartFetchError(
        `None of the ${source.ids.length} IDs matched a Patient on the server${
          source.system ? ` (identifier system ${source.system})` : ""
        }; nothing was written. Check --id-system and the ID file.`,
      );
    }
    await o.bind();
    if (resolution.patients > 0) {
      await rows.writeTo(join(o.dir, `Patient.ndjson${o.gzip ? ".gz" : ""}`), o.gzip);
    }
    if (resolution.unmatched.length) {
      await writeFileAtomic(join(o.dir, UNMATCHED_FILE), resolution.unmatched.join("\n") + "\n");
    }
  } else {
    await o.bind();
  }
  const patients = await patientIdsIn(source.kind === "folder" ? source.dir : o.dir);
  if (patients.length === 0 && !(source.kind === "ids" && source.ids.length === 0)) {
    throw new SmartFetchError(
      source.kind === "folder"
        ? `No cohort patients found in ${source.dir}. Give a cohort with --group, --id-file or --id-list, or export Patient too.`
        : "The cohort has no patients.",
    );
  }
  const report = cohortReport(source, resolution, patients.length);
  await o.store.update((m) => {
    m.crawl = { ...m.crawl!, cohort: report };
    if (o.patientRequested && source.kind !== "folder" && !m.done?.Patient) {
      m.done = { ...m.done, Patient: isoLocalMicros(o.clock.now()) };
    }
  });
  if (resolution) {
    say.info(
      `Cohort: ${
        source.kind === "ids" ? source.ids.length.toLocaleString("en-US") : ""
      } IDs matched ${patients.length.toLocaleString("en-US")} patients with ${
        resolution.requests.toLocaleString("en-US")
      } requests${
        source.kind !== "ids" || !source.system
          ? " (Patient reads)"
          : resolution.batched
          ? " (batched)"
          : " (one by one: the server does not OR identifiers)"
      }.`,
    );
    if (resolution.unmatched.length) {
      say.warn(
        `${resolution.unmatched.length} ID(s) matched no patient; they are listed in ${
          join(o.dir, UNMATCHED_FILE)
        }.`,
      );
    }
    for (const [id, pids] of [...resolution.multiple].slice(0, 10)) {
      say.warn(`ID ${id} matched ${pids.length} patients: ${pids.join(", ")}.`);
    }
  }
  return patients;
}
