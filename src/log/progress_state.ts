/**
 * The progress display's model: folds progress events into what a renderer needs to draw (phase,
 * waiting info, file counts, bytes per type, throughput, retries). Renderers own no counters.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { CrawlProgress } from "./crawl_progress.ts";
import type { Phase, ProgressEvent } from "./events.ts";

/** Throughput is averaged over this window: long enough to smooth 4 MB progress steps. */
const RATE_WINDOW_MS = 10_000;

/** Totals of the finished files of one resource type. */
export interface TypeTotals {
  /** Files downloaded in this run. */
  files: number;
  /** Resources (NDJSON lines) in them. */
  resources: number;
  /** NDJSON bytes received (decompressed). */
  bytes: number;
}

/** A download that has started and not finished. */
export interface FileInProgress {
  name: string;
  resourceType: string;
  /** Bytes received so far (the latest `file-bytes` total). */
  bytes: number;
  /** When its `file-start` arrived (ms epoch). */
  startedMs: number;
}

/** What the last status poll said. */
export interface WaitingInfo {
  /** When the export was kicked off (ms epoch). */
  exportStartedMs: number;
  /** The server's X-Progress text, if any. */
  xProgress: string | null;
  /** The delay the poller announced before its next poll. */
  nextPollMs: number;
  /** When that poll answered (ms epoch, from the clock). */
  lastPollMs: number;
}

/** The manifest's file counts. */
export interface FilesPlanned {
  /** Files in the manifest, including those already on disk. */
  total: number;
  /** Files already on disk before this run started downloading. */
  alreadyDone: number;
}

/** Folds progress events into display state. Times are read from the injected clock. */
export class ProgressState {
  #phase: Phase | null = null;
  #detail: string | null = null;
  #phaseStartedMs: number;
  #runStartedMs: number;
  #waiting: WaitingInfo | null = null;
  #planned: FilesPlanned | null = null;
  #filesDone = 0;
  #totals: TypeTotals = { files: 0, resources: 0, bytes: 0 };
  readonly #byType = new Map<string, TypeTotals>();
  readonly #inProgress = new Map<string, FileInProgress>();
  #retries = 0;
  #lastRetryReason: string | null = null;
  #unreachable: { sinceMs: number; retries: number } | null = null;
  /** Every byte ever received, including bytes of attempts that were restarted. */
  #transferred = 0;
  /** (time, #transferred) readings; the first one is at or before the rate window's start. */
  #samples: { t: number; total: number }[] = [];

  /** A crawl's progress (empty unless the run crawls). */
  readonly crawl: CrawlProgress;
  /** The hydration task under way and its counts, or null. */
  hydrating: { task: string; detail: string; ok: number; failed: number } | null = null;

  constructor(private readonly clock: Clock) {
    this.crawl = new CrawlProgress(clock);
    this.#runStartedMs = clock.now();
    this.#phaseStartedMs = this.#runStartedMs;
  }

  /** The current phase, or null before the first `phase` event. */
  get phase(): Phase | null {
    return this.#phase;
  }
  /** The current phase's detail (e.g. the kicked-off resource types). */
  get detail(): string | null {
    return this.#detail;
  }
  /** When the current phase began (ms epoch). */
  get phaseStartedMs(): number {
    return this.#phaseStartedMs;
  }
  /** When this state was created (ms epoch): the run's start, for "done in ...". */
  get runStartedMs(): number {
    return this.#runStartedMs;
  }
  /** The last status poll's answer, null before the first poll of the current export. */
  get waiting(): WaitingInfo | null {
    return this.#waiting;
  }
  /** The manifest's counts, null until `files-planned`. */
  get planned(): FilesPlanned | null {
    return this.#planned;
  }
  /** Manifest files on disk: already there plus finished since `files-planned`. */
  get filesDone(): number {
    return (this.#planned?.alreadyDone ?? 0) + this.#filesDone;
  }
  /** Totals of every file downloaded in this run. */
  get totals(): Readonly<TypeTotals> {
    return this.#totals;
  }
  /** Totals per resource type, in order of first completion. */
  get byType(): ReadonlyMap<string, Readonly<TypeTotals>> {
    return this.#byType;
  }
  /** Downloads under way, in order of start. */
  get inProgress(): ReadonlyMap<string, Readonly<FileInProgress>> {
    return this.#inProgress;
  }
  /** Retries seen. */
  get retries(): number {
    return this.#retries;
  }
  /** Since when the server has not answered (over a minute of failures), or null. */
  get unreachable(): Readonly<{ sinceMs: number; retries: number }> | null {
    return this.#unreachable;
  }
  /** The reason of the latest retry. */
  get lastRetryReason(): string | null {
    return this.#lastRetryReason;
  }

  /** Bytes received: finished files plus the running totals of files in progress. */
  get receivedBytes(): number {
    let bytes = this.#totals.bytes;
    for (const file of this.#inProgress.values()) bytes += file.bytes;
    return bytes;
  }

  /** Milliseconds until the next status poll (0 when due), null when not waiting. */
  nextPollInMs(now: number = this.clock.now()): number | null {
    if (!this.#waiting) return null;
    return Math.max(0, this.#waiting.lastPollMs + this.#waiting.nextPollMs - now);
  }

  /**
   * Download speed in bytes per second over the last ~10 s. It falls towards 0 when bytes stop
   * arriving, because the window keeps moving with the clock.
   */
  throughput(now: number = this.clock.now()): number {
    this.#prune(now);
    const base = this.#samples[0];
    if (!base) return 0;
    const span = Math.min(now - base.t, RATE_WINDOW_MS);
    if (span <= 0) return 0;
    const since = Math.max(base.t, now - RATE_WINDOW_MS);
    // Bytes counted after `since`: readings older than the window count only partially.
    const next = this.#samples[1];
    let bytes = this.#transferred - base.total;
    if (next && base.t < since) {
      const share = (since - base.t) / (next.t - base.t);
      bytes -= (next.total - base.total) * share;
    }
    return Math.max(0, bytes) / (span / 1000);
  }

  /** Folds one event in. */
  apply(event: ProgressEvent): void {
    const now = this.clock.now();
    switch (event.type) {
      case "phase":
        if (event.phase !== this.#phase) this.#phaseStartedMs = now;
        this.#phase = event.phase;
        this.#detail = event.detail ?? null;
        // A new kick-off (e.g. re-exporting expired files) has its own polls and manifest.
        if (event.phase === "kickoff") this.#waiting = null;
        break;
      case "waiting":
        this.#waiting = {
          exportStartedMs: event.startedMs,
          xProgress: event.xProgress,
          nextPollMs: event.nextPollMs,
          lastPollMs: now,
        };
        break;
      case "files-planned":
        this.#planned = { total: event.total, alreadyDone: event.alreadyDone };
        this.#filesDone = 0;
        break;
      case "file-start":
        this.#inProgress.set(event.name, {
          name: event.name,
          resourceType: event.resourceType,
          bytes: 0,
          startedMs: now,
        });
        this.#record(now, 0);
        break;
      case "file-bytes": {
        const file = this.#inProgress.get(event.name);
        const before = file?.bytes ?? 0;
        // A smaller total means the request was retried from scratch: all of it is new.
        this.#record(now, event.bytes >= before ? event.bytes - before : event.bytes);
        if (file) file.bytes = event.bytes;
        else {
          this.#inProgress.set(event.name, {
            name: event.name,
            resourceType: "",
            bytes: event.bytes,
            startedMs: now,
          });
        }
        break;
      }
      case "file-done": {
        const before = this.#inProgress.get(event.name)?.bytes ?? 0;
        this.#record(now, event.bytes >= before ? event.bytes - before : event.bytes);
        this.#inProgress.delete(event.name);
        this.#filesDone++;
        add(this.#totals, event);
        let forType = this.#byType.get(event.resourceType);
        if (!forType) this.#byType.set(event.resourceType, forType = emptyTotals());
        add(forType, event);
        break;
      }
      case "retry":
        this.#retries++;
        this.#lastRetryReason = event.reason;
        break;
      case "unreachable":
        this.#unreachable = { sinceMs: event.sinceMs, retries: event.retries };
        break;
      case "reachable":
        this.#unreachable = null;
        break;
      case "crawl-planned":
      case "crawl-page":
      case "crawl-unit":
        this.crawl.apply(event);
        break;
      case "hydrate-task":
        this.hydrating = { task: event.task, detail: event.detail, ok: 0, failed: 0 };
        break;
      case "hydrate-target":
        if (this.hydrating) this.hydrating[event.ok ? "ok" : "failed"]++;
        break;
      case "message":
        break;
    }
  }

  /** Counts `bytes` new bytes at `now` for the throughput window. */
  #record(now: number, bytes: number): void {
    this.#transferred += bytes;
    const last = this.#samples.at(-1);
    if (last && last.t === now) last.total = this.#transferred;
    else this.#samples.push({ t: now, total: this.#transferred });
    this.#prune(now);
  }

  /** Drops readings no longer needed: keeps one at or before the window's start. */
  #prune(now: number): void {
    const start = now - RATE_WINDOW_MS;
    while (this.#samples.length > 1 && this.#samples[1]!.t <= start) this.#samples.shift();
  }
}

function emptyTotals(): TypeTotals {
  return { files: 0, resources: 0, bytes: 0 };
}

function add(totals: TypeTotals, done: { resources: number; bytes: number }): void {
  totals.files++;
  totals.resources += done.resources;
  totals.bytes += done.bytes;
}
