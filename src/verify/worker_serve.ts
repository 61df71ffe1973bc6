/**
 * The file checker's side of the pool (check_pool.ts): answers one job at a time with its report
 * (the id hashes transferred, not copied). It runs as `file_worker.ts` from the sources, or as
 * the program itself started in a worker named {@linkcode VERIFY_WORKER_NAME} (the bundle and
 * the binary have no other module to start), which `main.ts` recognises.
 *
 * @module
 */

import { checkFile, type FileJob } from "./file_check.ts";

/** The name a pool's worker is given when it runs the whole program. */
export const VERIFY_WORKER_NAME = "smart-fetch-verify";

interface WorkerScope {
  name?: string;
  onmessage: ((event: MessageEvent<{ job: FileJob }>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

/** True in a worker that a pool started on the program itself. */
export function isVerifyWorker(): boolean {
  return (globalThis as unknown as WorkerScope).name === VERIFY_WORKER_NAME;
}

/** Serves file checks in this worker, and tells the pool it is ready. */
export function serveFileChecks(): void {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = async (event) => {
    try {
      const report = await checkFile(event.data.job);
      scope.postMessage({ report }, report.hashes ? [report.hashes.buffer] : []);
    } catch (err) {
      scope.postMessage({ error: err instanceof Error ? err.stack ?? err.message : String(err) });
    }
  };
  scope.postMessage({ ready: true });
}
