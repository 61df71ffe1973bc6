/** Reading every page of a (partial) manifest, and its log rows the first time it is read. */

import type { HttpClient } from "../http/client.ts";
import type { ExportLog } from "../log/export_log.ts";
import type { ManifestPage } from "./manifest.ts";
import { fetchManifestPage } from "./poll.ts";

/** Options for {@linkcode readManifestPages}. */
export interface PagesOptions {
  http: HttpClient;
  log: ExportLog;
  /** The exportId to log the status rows under; undefined when they were logged already. */
  logAs: string | undefined;
}

/**
 * Follows `link` next from the first page to the last. The first time (`logAs` given) it writes
 * `status_complete`, one `status_page_complete` per page and `manifest_complete`, as the export
 * log format has them.
 */
export async function readManifestPages(
  first: ManifestPage,
  options: PagesOptions,
): Promise<ManifestPage[]> {
  const { log, http, logAs } = options;
  const pages = [first];
  if (logAs) {
    await log.write(logAs, "status_complete", { transactionTime: first.transactionTime });
  }
  for (let page = first;;) {
    if (logAs) {
      await log.write(logAs, "status_page_complete", {
        transactionTime: page.transactionTime,
        outputFileCount: page.counts.output,
        deletedFileCount: page.counts.deleted,
        errorFileCount: page.counts.error,
      });
    }
    if (!page.next) break;
    page = await fetchManifestPage(page.next, http);
    pages.push(page);
  }
  if (logAs) {
    const total = (k: keyof ManifestPage["counts"]) => pages.reduce((n, p) => n + p.counts[k], 0);
    await log.write(logAs, "manifest_complete", {
      transactionTime: first.transactionTime,
      totalOutputFileCount: total("output"),
      totalDeletedFileCount: total("deleted"),
      totalErrorFileCount: total("error"),
      totalManifests: pages.length,
    });
  }
  return pages;
}
