/**
 * The export log rows of a crawl, so Cumulus ETL knows the cohort and the export time: a
 * `kickoff` whose exportUrl is `<fhir-url>/Group/<group name>/$export`, and its
 * `status_complete` with the transaction time (the earliest type's), then the manifest and
 * export rows. Written once: a resumed crawl that finds its rows leaves the log alone.
 */

import type { Capabilities } from "../fhir/capability.ts";
import type { ExportLog } from "../log/export_log.ts";

/** Options for {@linkcode writeCrawlLog}. */
export interface CrawlLogOptions {
  log: ExportLog;
  exportId: string;
  baseUrl: string;
  groupName: string;
  capabilities: Capabilities;
  /** The folder's `done` times: the earliest is the export's transaction time. */
  done: Readonly<Record<string, string>>;
  totals: { files: number; resources: number };
}

/** The crawl's transaction time: the earliest `done` time (SMART Fetch's rule). */
export function crawlTransactionTime(done: Readonly<Record<string, string>>): string | undefined {
  let best: string | undefined;
  for (const time of Object.values(done)) {
    if (!Number.isNaN(Date.parse(time)) && (!best || Date.parse(time) < Date.parse(best))) {
      best = time;
    }
  }
  return best;
}

/** Appends the crawl's log rows unless they are there already. */
export async function writeCrawlLog(o: CrawlLogOptions): Promise<void> {
  const rows = await o.log.rows();
  if (rows.some((r) => r.exportId === o.exportId && r.eventId === "kickoff")) return;
  const transactionTime = crawlTransactionTime(o.done) ?? new Date().toISOString();
  const caps = o.capabilities;
  const write = (eventId: string, detail: Record<string, unknown>) =>
    o.log.write(o.exportId, eventId, detail);
  await write("kickoff", {
    exportUrl: `${o.baseUrl}/Group/${encodeURIComponent(o.groupName)}/$export`,
    softwareName: caps.softwareName,
    softwareVersion: caps.softwareVersion,
    softwareReleaseDate: caps.softwareReleaseDate,
    fhirVersion: caps.fhirVersion,
    requestParameters: {},
    errorCode: null,
    errorBody: null,
    responseHeaders: {},
  });
  await write("status_complete", { transactionTime });
  await write("status_page_complete", {
    transactionTime,
    outputFileCount: o.totals.files,
    deletedFileCount: 0,
    errorFileCount: 0,
  });
  await write("manifest_complete", {
    transactionTime,
    totalOutputFileCount: o.totals.files,
    totalDeletedFileCount: 0,
    totalErrorFileCount: 0,
    totalManifests: 1,
  });
  await write("export_complete", {
    files: o.totals.files,
    resources: o.totals.resources,
    bytes: 0,
    attachments: null,
    duration: 0,
  });
}
