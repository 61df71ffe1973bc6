/**
 * A crawl's progress: patients searched per type, requests and resources per second, failed
 * searches, and an ETA; folded from crawl events, drawn as a status line (Slurm logs) or as one
 * bar per type (terminal).
 */

import type { Clock } from "../clock.ts";
import type { ProgressEvent } from "./events.ts";
import { formatDuration } from "./time_format.ts";

/** Rates are averaged over this window. */
const WINDOW_MS = 30_000;

/** One type's counts. */
export interface CrawlTypeProgress {
  total: number;
  done: number;
  failed: number;
  resources: number;
}

/**
 * Counts something over a moving window, for a rate per second. It keeps the running total at
 * most once per second, so a fast crawl (thousands of events a second) holds a few dozen samples,
 * not one per event: those made the heap grow with the crawl and slowed it down.
 */
export class Rate {
  #samples: { t: number; n: number }[] = [];
  #total = 0;
  add(now: number, n: number): void {
    this.#total += n;
    const last = this.#samples.at(-1);
    if (last && this.#samples.length > 1 && Math.floor(last.t / 1000) === Math.floor(now / 1000)) {
      last.n = this.#total;
      return;
    }
    this.#samples.push({ t: now, n: this.#total });
    while (this.#samples.length > 2 && this.#samples[1]!.t <= now - WINDOW_MS) {
      this.#samples.shift();
    }
  }
  /** Samples held (at most one per second of the window, and two more). */
  get samples(): number {
    return this.#samples.length;
  }

  perSecond(now: number): number {
    const first = this.#samples[0];
    if (!first) return 0;
    const span = Math.max(1000, Math.min(WINDOW_MS, now - first.t));
    return (this.#total - first.n) / (span / 1000);
  }
}

/** Folds crawl events. */
export class CrawlProgress {
  readonly types = new Map<string, CrawlTypeProgress>();
  requests = 0;
  resources = 0;
  failed = 0;
  /** Patient searches done in this run (for the ETA). */
  unitsThisRun = 0;
  readonly #requests = new Rate();
  readonly #resources = new Rate();
  readonly #units = new Rate();

  constructor(private readonly clock: Clock) {}

  /** Whether a crawl was planned. */
  get active(): boolean {
    return this.types.size > 0;
  }

  apply(event: ProgressEvent): void {
    const now = this.clock.now();
    switch (event.type) {
      case "crawl-planned":
        this.types.clear();
        for (const t of event.types) {
          this.types.set(t.resourceType, { total: t.total, done: t.done, failed: 0, resources: 0 });
        }
        break;
      case "crawl-page": {
        this.requests++;
        this.resources += event.resources;
        this.#requests.add(now, 1);
        this.#resources.add(now, event.resources);
        const t = this.types.get(event.resourceType);
        if (t) t.resources += event.resources;
        break;
      }
      case "crawl-unit": {
        const t = this.types.get(event.resourceType);
        if (event.failed) {
          this.failed++;
          if (t) t.failed++;
        } else if (t) t.done++;
        this.unitsThisRun++;
        this.#units.add(now, 1);
        break;
      }
      default:
        break;
    }
  }

  /** Patients whose searches are all done (the mean over types, whole patients). */
  patientsDone(): { done: number; total: number } {
    const list = [...this.types.values()];
    if (!list.length) return { done: 0, total: 0 };
    const total = Math.max(...list.map((t) => t.total));
    const done = Math.floor(list.reduce((n, t) => n + t.done, 0) / list.length);
    return { done, total };
  }

  /** Time left at the current pace, or null when unknown. */
  etaMs(now: number = this.clock.now()): number | null {
    const left = [...this.types.values()].reduce((n, t) => n + t.total - t.done - t.failed, 0);
    const rate = this.#units.perSecond(now);
    if (left <= 0) return 0;
    return rate > 0 ? (left / rate) * 1000 : null;
  }

  /** The periodic plain line. */
  statusLine(now: number = this.clock.now()): string {
    const { done, total } = this.patientsDone();
    const pct = total ? Math.floor((done / total) * 100) : 100;
    const parts = [
      `Crawled ${done.toLocaleString("en-US")} of ${
        total.toLocaleString("en-US")
      } patients (${pct}%)`,
      `${this.#requests.perSecond(now).toFixed(1)} requests/s`,
      `${Math.round(this.#resources.perSecond(now)).toLocaleString("en-US")} resources/s`,
      `${this.failed} failed ${this.failed === 1 ? "search" : "searches"}`,
    ];
    const eta = this.etaMs(now);
    parts.push(eta === null ? "ETA unknown" : `ETA ${formatDuration(eta)}`);
    return parts.join("; ");
  }

  /** One bar per type, for the terminal. */
  barLines(width = 20): string[] {
    const types = [...this.types];
    const name = Math.max(0, ...types.map(([t]) => t.length));
    return types.map(([type, t]) => {
      const filled = t.total ? Math.round((t.done / t.total) * width) : width;
      const bar = "█".repeat(filled) + "░".repeat(width - filled);
      const failed = t.failed ? ` · ${t.failed} failed` : "";
      return `  ${type.padEnd(name)} ${bar} ${t.done.toLocaleString("en-US")}/${
        t.total.toLocaleString("en-US")
      } patients · ${t.resources.toLocaleString("en-US")} resources${failed}`;
    });
  }
}
