/** Turning `crawl` and `export --export-mode crawl` flags into a crawl of one folder. */

import { basename, resolve } from "node:path";
import type { ExportRequest } from "../cli/selection.ts";
import type { IdCohort } from "../cohort/id_file.ts";
import type { CohortSource } from "../crawl/cohort_step.ts";
import type { CrawlRunOptions, CrawlSummary } from "../crawl/crawl_run.ts";
import { sinceClause } from "../crawl/search_plan.ts";
import type { Capabilities } from "../fhir/capability.ts";
import type { CommandContext } from "./bulk_run.ts";
import type { ExportPlan } from "./export_plan.ts";
import type { Session } from "./session.ts";

/** The flags a crawl uses. */
export interface CrawlFlags {
  group?: string | undefined;
  groupNickname?: string | undefined;
  compression: boolean;
  maxConnections: number;
  maxWait: number;
  kickoff: "get" | "post";
}

/**
 * Where the cohort comes from, SMART Fetch's order: IDs when given; else a bulk export of
 * Patient for the Group (or the whole system) when there is a Group or Patient is requested;
 * else the Patient files of a folder.
 */
export function cohortSource(
  flags: CrawlFlags,
  cohort: IdCohort | undefined,
  types: readonly string[],
  sourceDir: string,
): CohortSource {
  if (cohort) return { kind: "ids", ids: cohort.ids, system: cohort.system, name: cohort.name };
  if (flags.group !== undefined) return { kind: "bulk", level: { kind: "group", id: flags.group } };
  if (types.includes("Patient")) return { kind: "bulk", level: { kind: "system" } };
  return { kind: "folder", dir: sourceDir };
}

/**
 * The cohort's name in the log: `--group-nickname`, else `--group`, else the ID file's stem,
 * else the folder's name.
 */
export function groupNameFor(
  flags: CrawlFlags,
  cohort: IdCohort | undefined,
  folder: string,
): string {
  return flags.groupNickname ?? flags.group ?? cohort?.name ?? basename(resolve(folder));
}

/**
 * The request as a crawl sends it: since clauses per type (`--since auto` gives each type its
 * own time), recorded in `sinceResources`. Patient never gets one: the cohort is always read
 * whole, so an incremental crawl never makes unchanged patients look deleted.
 */
export function crawlRequest(plan: ExportPlan, caps: Capabilities): ExportRequest {
  const request = plan.request;
  const sinceFor = (t: string) => plan.autoTimes.size ? plan.autoTimes.get(t) : request.since;
  const sinceTypes = request.types.filter((t) =>
    t !== "Patient" && sinceClause(t, sinceFor(t), request.sinceMode, caps) !== undefined
  ).sort();
  return { ...request, sinceTypes };
}

/** Options for {@linkcode crawlOptions}. */
export interface CrawlSetup {
  flags: CrawlFlags;
  cohort: IdCohort | undefined;
  /** The folder whose name is the cohort's default name (the managed or output folder). */
  folder: string;
  /** Where the crawl writes. */
  outDir: string;
  /** Where Patient files are read from when no other cohort is given. */
  sourceDir: string;
  request: ExportRequest;
  sinceFor: (type: string) => string | undefined;
  session: Session;
  ctx: CommandContext;
}

/** Everything {@linkcode runCrawl} needs but the folder's store, log and binding. */
export function crawlOptions(
  s: CrawlSetup,
): Omit<CrawlRunOptions, "store" | "log" | "bind" | "newPatients"> {
  return {
    dir: s.outDir,
    http: s.session.http,
    capabilities: s.session.capabilities,
    reporter: s.ctx.reporter,
    clock: s.ctx.clock,
    types: s.request.types,
    filters: s.request.filters,
    sinceMode: s.request.sinceMode,
    sinceFor: s.sinceFor,
    source: cohortSource(s.flags, s.cohort, s.request.types, s.sourceDir),
    groupName: groupNameFor(s.flags, s.cohort, s.folder),
    gzip: s.flags.compression,
    maxConnections: s.flags.maxConnections,
    maxWaitMs: s.flags.maxWait,
    kickoff: s.flags.kickoff === "post" ? "POST" : "GET",
  };
}

/** The closing line of a crawl. */
export function crawlSummaryText(dir: string, s: CrawlSummary): string {
  return `Crawl complete in ${dir}: ${s.patients.toLocaleString("en-US")} patients, ${
    s.resources.toLocaleString("en-US")
  } resources in ${s.files} file(s), ${s.requests.toLocaleString("en-US")} requests.\n`;
}
