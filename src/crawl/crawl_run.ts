/**
 * One crawl into one folder, start to finish and resumable at any point: the cohort, every
 * search not done yet, each finished type committed as `<Type>.ndjson.gz` and marked done, the
 * errors file, and the export log rows Cumulus ETL reads (written once).
 */

import { join } from "node:path";
import type { Clock } from "../clock.ts";
import { SmartFetchError } from "../errors.ts";
import type { Capabilities } from "../fhir/capability.ts";
import type { HttpClient } from "../http/client.ts";
import { Messages, type Reporter } from "../log/events.ts";
import type { ExportLog } from "../log/export_log.ts";
import { isoLocalMicros } from "../log/time_format.ts";
import type { OutputMetadataStore } from "../workspace/metadata.ts";
import { type CohortSource, settleCohort } from "./cohort_step.ts";
import { crawl } from "./crawler.ts";
import { writeCrawlLog } from "./crawl_log.ts";
import { CrawlOutput } from "./output.ts";
import { sinceClause, typePlan } from "./search_plan.ts";
import { transactionTime } from "./transaction_time.ts";

/** Options for {@linkcode runCrawl}. */
export interface CrawlRunOptions {
  dir: string;
  store: OutputMetadataStore;
  log: ExportLog;
  /** Writes the folder (bind late): called once the cohort is known. */
  bind: () => Promise<void>;
  http: HttpClient;
  capabilities: Capabilities;
  reporter: Reporter;
  clock: Clock;
  /** Requested types, in processing order. */
  types: readonly string[];
  /** Filters per type (as recorded in `.metadata`). */
  filters: Readonly<Record<string, string[]>>;
  sinceMode: "updated" | "created" | undefined;
  /** The since value for a type (a fixed `--since`, or what `--since auto` found for it). */
  sinceFor: (type: string) => string | undefined;
  source: CohortSource;
  /** The cohort's name in the log's Group URL. */
  groupName: string;
  gzip: boolean;
  maxConnections: number;
  maxWaitMs: number;
  kickoff: "GET" | "POST";
  /**
   * Managed folders: the patients new since the previous export (merge survivors included),
   * asked once the cohort is saved; their whole history is fetched even with a since filter.
   */
  newPatients?: () => Promise<string[] | undefined>;
}

/** What a crawl run did. */
export interface CrawlSummary {
  patients: number;
  /** Resources in the files committed by this run. */
  resources: number;
  /** Files committed by this run. */
  files: number;
  requests: number;
}

/** Runs (or resumes) the crawl of one folder. Throws when searches failed (rerun to retry). */
export async function runCrawl(o: CrawlRunOptions): Promise<CrawlSummary> {
  const { store, clock } = o;
  const say = new Messages(o.reporter);
  if (!store.current.crawl) {
    const hex = Array.from(
      crypto.getRandomValues(new Uint8Array(8)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    await store.update((m) => {
      m.crawl = { exportId: `crawl-${hex}`, started: new Date(clock.now()).toISOString() };
    });
  }
  const patients = await settleCohort({
    dir: o.dir,
    source: o.source,
    store,
    log: o.log,
    bind: o.bind,
    http: o.http,
    capabilities: o.capabilities,
    reporter: o.reporter,
    clock,
    gzip: o.gzip,
    concurrency: o.maxConnections,
    patientFilters: o.filters["Patient"] ?? [],
    patientRequested: o.types.includes("Patient"),
    kickoff: o.kickoff,
    maxWaitMs: o.maxWaitMs,
  });
  if (o.newPatients && !store.current.crawl!.newChecked) {
    const fresh = await o.newPatients();
    if (fresh !== undefined) say.info(`Count of new patients: ${fresh.length}.`);
    await store.update((m) => {
      if (fresh?.length) m.newPatients = fresh;
      m.crawl = { ...m.crawl!, newChecked: true };
    });
  }
  const fullHistory = new Set(store.current.newPatients ?? []);

  const done = () => store.current.done ?? {};
  let types = o.types.filter((t) => t !== "Patient" && !(t in done()));
  if (o.capabilities.kind === "epic" && types.includes("EpisodeOfCare")) {
    say.info(
      "Skipping EpisodeOfCare, Epic does not support searching without a type, so they will have to be hydrated instead.",
    );
    await store.update((m) => {
      m.done = { ...m.done, EpisodeOfCare: new Date(clock.now()).toISOString() };
    });
    types = types.filter((t) => t !== "EpisodeOfCare");
  }
  const plans = types.map((t) =>
    typePlan(t, o.filters[t] ?? [], sinceClause(t, o.sinceFor(t), o.sinceMode, o.capabilities))
  );
  const output = await CrawlOutput.open({
    dir: o.dir,
    gzip: o.gzip,
    types,
    patients: new Map(patients.map((p, i) => [p, i])),
  });
  const summary: CrawlSummary = { patients: patients.length, resources: 0, files: 0, requests: 0 };
  try {
    o.reporter.emit({ type: "phase", phase: "crawling", detail: types.join(", ") });
    o.reporter.emit({
      type: "crawl-planned",
      types: types.map((t) => ({
        resourceType: t,
        total: patients.length,
        done: output.doneCount(t),
      })),
    });
    const result = await crawl({
      http: o.http,
      output,
      reporter: o.reporter,
      clock,
      patients,
      plans,
      fullHistory,
      workers: o.maxConnections * 2,
      maxWaitMs: o.maxWaitMs,
    });
    summary.requests = result.requests;
    o.reporter.emit({ type: "phase", phase: "finishing", detail: "committing files" });
    const started = Date.parse(store.current.crawl!.started);
    for (const type of types) {
      if (output.doneCount(type) < patients.length) continue;
      const file = await output.commit(type);
      if (file) {
        summary.resources += file.resources;
        if (file.resources > 0) summary.files++;
        if (file.duplicates) say.verbose(`${type}: ${file.duplicates} duplicate rows dropped.`);
      }
      const time = transactionTime(started, output.newest(type));
      await store.update((m) => {
        m.done = { ...m.done, [type]: isoLocalMicros(time) };
        if (file) {
          const t = m.totals ?? { files: 0, resources: 0, bytes: 0 };
          m.totals = {
            files: t.files + (file.resources > 0 ? 1 : 0),
            resources: t.resources + file.resources,
            bytes: t.bytes + file.bytes,
          };
        }
      });
    }
    if (result.failed.size) {
      await store.update((m) => {
        m.crawl = { ...m.crawl!, failed: Object.fromEntries(result.failed) };
      });
      const perType = [...result.failed].map(([t, n]) => `${t} ${n}`).join(", ");
      const [type, first] = [...result.firstError][0]!;
      throw new SmartFetchError(
        `${
          [...result.failed.values()].reduce((a, b) => a + b, 0)
        } search(es) failed after retries (${perType}); the rest is saved. Rerun the same command to retry them. First failure (${type}): ${first}`,
      );
    }
    await output.finish();
  } finally {
    output.close();
  }
  await store.update((m) => {
    delete m.crawl?.failed;
  });
  await writeCrawlLog({
    log: o.log,
    exportId: store.current.crawl!.exportId,
    baseUrl: o.http.baseUrl,
    groupName: o.groupName,
    capabilities: o.capabilities,
    done: store.current.done ?? {},
    totals: store.current.totals ?? summary,
  });
  say.verbose(`Crawl of ${join(o.dir)} complete.`);
  return summary;
}
