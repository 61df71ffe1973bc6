/**
 * Checks files on every core: a few workers, each given one file at a time, the biggest first, so
 * both cores of a small node stay busy gunzipping and scanning. From the sources a worker runs
 * file_worker.ts; the bundle and the binary have only themselves, so a worker runs the program,
 * named so that main.ts serves file checks instead of the command line (worker_serve.ts). Where
 * workers cannot start, files are checked in this thread instead: slower, the same results.
 */

import { InternalError } from "../errors.ts";
import { fileURLToPath } from "node:url";
import { checkFile, type FileJob, type FileReport } from "./file_check.ts";
import { VERIFY_WORKER_NAME } from "./worker_serve.ts";

/** Options of {@linkcode CheckPool.open}. */
export interface PoolOptions {
  /** Workers to start. @default the number of cores, at most 8 */
  workers?: number;
  /** How long a worker may take to start. @default 20 s */
  startMs?: number;
}

interface Waiting {
  job: FileJob;
  resolve: (report: FileReport) => void;
  reject: (err: unknown) => void;
}

/** A pool of file checkers. */
export class CheckPool {
  readonly #idle: Worker[] = [];
  readonly #queue: Waiting[] = [];
  /** Each busy worker's job. */
  readonly #busy = new Map<Worker, Waiting>();
  #workers: Worker[];

  private constructor(workers: Worker[]) {
    this.#workers = workers;
    for (const worker of workers) {
      worker.onmessage = (event) => this.#answer(worker, event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        this.#lost(worker, event.message);
      };
      this.#idle.push(worker);
    }
  }

  /** Starts the workers (or, if they cannot start, a pool that checks in this thread). */
  static async open(options: PoolOptions = {}): Promise<CheckPool> {
    const size = options.workers ?? Math.min(8, Math.max(1, navigator.hardwareConcurrency || 1));
    const entry = workerEntry();
    const started = entry
      ? await Promise.all(
        Array.from(
          { length: size },
          () => startWorker(entry, options.startMs ?? 20_000).catch(() => undefined),
        ),
      )
      : [];
    const workers = started.filter((w): w is Worker => w !== undefined);
    if (workers.length < size) { for (const w of workers) w.terminate(); }
    return new CheckPool(workers.length === size ? workers : []);
  }

  /** True when files are checked in workers. */
  get parallel(): boolean {
    return this.#workers.length > 0;
  }

  /** The number of workers. */
  get size(): number {
    return this.#workers.length;
  }

  /** Checks one file. */
  check(job: FileJob): Promise<FileReport> {
    if (!this.parallel) return checkFile(job);
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      this.#dispatch();
    });
  }

  /** Stops the workers. */
  close(): void {
    for (const worker of this.#workers) worker.terminate();
    this.#workers = [];
    for (const waiting of [...this.#queue, ...this.#busy.values()]) {
      waiting.reject(new InternalError("verify stopped before every file was checked"));
    }
  }

  #dispatch(): void {
    while (this.#idle.length && this.#queue.length) {
      const worker = this.#idle.pop()!;
      const waiting = this.#queue.shift()!;
      this.#busy.set(worker, waiting);
      worker.postMessage({ job: waiting.job });
    }
  }

  #answer(worker: Worker, data: { report?: FileReport; error?: string }): void {
    const waiting = this.#busy.get(worker);
    if (!waiting) return;
    this.#busy.delete(worker);
    this.#idle.push(worker);
    if (data.report) waiting.resolve(data.report);
    else waiting.reject(new InternalError(`checking ${waiting.job.path} failed: ${data.error}`));
    this.#dispatch();
  }

  /** A worker died (a bug): its job fails; the rest go on in the others, or in this thread. */
  #lost(worker: Worker, message: string): void {
    worker.terminate();
    this.#workers = this.#workers.filter((w) => w !== worker);
    const waiting = this.#busy.get(worker);
    this.#busy.delete(worker);
    waiting?.reject(new InternalError(`checking ${waiting.job.path} failed: ${message}`));
    if (this.parallel) return;
    for (const queued of this.#queue.splice(0)) {
      checkFile(queued.job).then(queued.resolve, queued.reject);
    }
  }
}

/** What a worker runs: file_worker.ts beside this module, or else the program itself. */
function workerEntry(): { url: string; name?: string } | undefined {
  const module = new URL("./file_worker.ts", import.meta.url);
  if (module.protocol === "file:") {
    try {
      if (Deno.statSync(fileURLToPath(module)).isFile) return { url: module.href };
    } catch {
      // Not there: the bundle or the binary.
    }
  }
  const main = Deno.mainModule;
  return main ? { url: main, name: VERIFY_WORKER_NAME } : undefined;
}

/** Starts one worker and waits until it says it is ready (or fails, or takes too long). */
function startWorker(entry: { url: string; name?: string }, startMs: number): Promise<Worker> {
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      worker = new Worker(entry.url, {
        type: "module",
        ...(entry.name ? { name: entry.name } : {}),
      });
    } catch (err) {
      reject(err);
      return;
    }
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new Error(`the worker did not start within ${startMs} ms`));
    }, startMs);
    worker.onmessage = () => {
      clearTimeout(timer);
      resolve(worker);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      clearTimeout(timer);
      worker.terminate();
      reject(new Error(event.message));
    };
  });
}
