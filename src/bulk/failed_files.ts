/** What a run does with files that failed their checks: record, report, and stop before done. */

import { RefusedError, SmartFetchError } from "../errors.ts";
import { appendOutcomes } from "../workspace/outcomes.ts";
import type { FailedFile } from "./download_queue.ts";

/**
 * Throws when files failed their checks, before the export is marked done: its manifest stays
 * saved, so the next run downloads just those files. Mislabeled files are also recorded in
 * error/. The error's exit code is 5 when a file is mislabeled (the server must be fixed), else
 * 1 (a rerun tries again).
 */
export async function refuseFailedFiles(
  failed: readonly FailedFile[],
  options: { dir: string; gzip: boolean },
): Promise<void> {
  if (failed.length === 0) return;
  const mislabeled = failed.filter((f) => f.reason === "mislabeled");
  await appendOutcomes(
    options.dir,
    mislabeled.map((f) => ({ diagnostics: `smart-fetch: ${f.message}`, code: "invalid" })),
    options.gzip,
  );
  const list = failed.slice(0, 10).map((f) => `\n - ${f.file.name}: ${f.message}`).join("") +
    (failed.length > 10 ? `\n - ... and ${failed.length - 10} more` : "");
  const message = `${failed.length} file(s) failed their checks and were not saved; ${
    mislabeled.length
      ? "the server's files are not what its manifest says (see error/)"
      : "rerun the same command to download them again"
  }. The rest of the export is downloaded.${list}`;
  throw mislabeled.length ? new RefusedError(message) : new SmartFetchError(message);
}
