/**
 * The crawl itself: every (patient, type) search of the cohort through one shared pool that
 * keeps every connection busy. Work is pulled, not planned: a worker takes the next page of a
 * search under way first (so chains finish and memory stays small), else the first page of a
 * new search, across patients and types at once. Nothing waits for a slow search but its own
 * next page. Memory holds only the searches in flight, never results.
 */

import type { Clock } from "../clock.ts";
import { ServerError, TransientError } from "../errors.ts";
import type { HttpClient } from "../http/client.ts";
import { shortUrl } from "../http/short_url.ts";
import type { Reporter } from "../log/events.ts";
import type { CrawlOutput } from "./output.ts";
import { fetchSearchPage } from "./search_page.ts";
import { searchUrl, type TypePlan } from "./search_plan.ts";
import { newestDate } from "./transaction_time.ts";

/** One patient's searches of one type. */
interface Unit {
  patient: string;
  plan: TypePlan;
  /** Searches not finished yet. */
  open: number;
  failed: boolean;
  /** Ids written for this unit: OR-ed filters return overlapping results. */
  seen: Set<string>;
  resources: number;
}

/** A page to fetch. */
interface Task {
  unit: Unit;
  url: string;
}

/** Options for {@linkcode crawl}. */
export interface CrawlOptions {
  http: HttpClient;
  output: CrawlOutput;
  reporter: Reporter;
  clock: Clock;
  /** The cohort, in its saved order. */
  patients: readonly string[];
  /** Types to crawl. */
  plans: readonly TypePlan[];
  /** Patients whose whole history is fetched (new ones, merge survivors): no since clause. */
  fullHistory: ReadonlySet<string>;
  /** Workers: more than the connection cap, so parsing overlaps waiting. */
  workers: number;
  /** How often buffered rows are written out (ms). @default 500 */
  flushEveryMs?: number;
  /** While the server is unreachable, searches wait for it up to this long in all (ms). */
  maxWaitMs: number;
}

/** What a crawl run did. */
export interface CrawlResult {
  /** Searches that failed (after retries) per type: retried by the next run. */
  failed: Map<string, number>;
  /** Resources written per type in this run (before de-duplication). */
  resources: Map<string, number>;
  /** Pages fetched. */
  requests: number;
  /** The first failure's message per type, for the summary. */
  firstError: Map<string, string>;
}

/** Runs every search not done yet. Throws only for our own bugs and local failures. */
export async function crawl(o: CrawlOptions): Promise<CrawlResult> {
  const result: CrawlResult = {
    failed: new Map(),
    resources: new Map(),
    requests: 0,
    firstError: new Map(),
  };
  const deadline = o.clock.now() + o.maxWaitMs;
  const pages: Task[] = [];
  const fresh: Task[] = [];
  const units = pendingUnits(o);
  let exhausted = false;
  let fatal: unknown;
  let waiters: (() => void)[] = [];
  let busy = 0;
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };

  const nextTask = (): Task | undefined => {
    const page = pages.pop() ?? fresh.shift();
    if (page) return page;
    while (!exhausted) {
      const step = units.next();
      if (step.done) {
        exhausted = true;
        break;
      }
      const unit = step.value;
      const full = o.fullHistory.has(unit.patient);
      const tasks = unit.plan.filters.map((filter) => ({
        unit,
        url: searchUrl(o.http.baseUrl, unit.plan, unit.patient, filter, full),
      }));
      unit.open = tasks.length;
      fresh.push(...tasks.slice(1));
      return tasks[0];
    }
    return undefined;
  };

  const finishSearch = (unit: Unit) => {
    if (--unit.open > 0) return;
    const type = unit.plan.type;
    if (!unit.failed) o.output.markDone(type, unit.patient);
    o.reporter.emit({
      type: "crawl-unit",
      resourceType: type,
      resources: unit.resources,
      failed: unit.failed,
    });
  };

  const fail = (task: Task, err: Error) => {
    const unit = task.unit;
    const type = unit.plan.type;
    if (!unit.failed) {
      unit.failed = true;
      result.failed.set(type, (result.failed.get(type) ?? 0) + 1);
      if (!result.firstError.has(type)) result.firstError.set(type, err.message);
    }
    o.output.addError({
      resourceType: "OperationOutcome",
      id: crypto.randomUUID(),
      issue: [{
        severity: "error",
        code: "exception",
        diagnostics: `smart-fetch: the search ${shortUrl(task.url)} failed: ${err.message}`,
      }],
    });
  };

  const run = async (task: Task) => {
    const unit = task.unit;
    const type = unit.plan.type;
    const page = await fetchSearchPage(o.http, task.url);
    result.requests++;
    const now = o.clock.now();
    let added = 0;
    for (const resource of page.resources) {
      // Only the searched type: an included or odd entry would be a mislabeled row.
      if (resource.resourceType !== type) continue;
      const id = typeof resource.id === "string" ? resource.id : undefined;
      if (id !== undefined) {
        if (unit.seen.has(id)) continue;
        unit.seen.add(id);
      }
      o.output.add(type, JSON.stringify(resource), newestDate(resource, now));
      added++;
    }
    for (const outcome of page.outcomes) o.output.addError(outcome);
    unit.resources += added;
    result.resources.set(type, (result.resources.get(type) ?? 0) + added);
    o.reporter.emit({ type: "crawl-page", resourceType: type, resources: added });
    if (page.next && page.next !== task.url) {
      // Ahead of new searches: chains finish, and searches in flight stay few.
      pages.push({ unit, url: page.next });
      return;
    }
    if (page.next === task.url) {
      throw new ServerError("The server's next link repeats the same page", { url: task.url });
    }
    finishSearch(unit);
  };

  const worker = async () => {
    for (;;) {
      if (fatal) return;
      const task = nextTask();
      if (!task) {
        if (busy === 0) {
          wake();
          return;
        }
        // Pages of searches in flight may still come: wait for one to finish.
        await new Promise<void>((resolve) => waiters.push(resolve));
        continue;
      }
      busy++;
      try {
        await run(task);
      } catch (err) {
        if (err instanceof TransientError && o.http.unreachable && o.clock.now() < deadline) {
          // The server is away, not this search at fault: keep it for when it is back.
          pages.push(task);
        } else if (err instanceof ServerError || err instanceof TransientError) {
          fail(task, err);
          finishSearch(task.unit);
        } else {
          // Credentials refused, a full disk, our own bug: the whole crawl stops.
          fatal ??= err;
        }
      } finally {
        busy--;
        wake();
      }
    }
  };

  const timer = setInterval(() => {
    for (const plan of o.plans) {
      if (o.output.dirty(plan.type)) void o.output.flush(plan.type).catch(() => {});
    }
  }, o.flushEveryMs ?? 500);
  Deno.unrefTimer(timer);
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.workers) }, worker));
  } finally {
    clearInterval(timer);
  }
  await o.output.flushAll();
  if (fatal) throw fatal;
  return result;
}

/** The units not done yet, patient by patient (each patient's types together). */
function* pendingUnits(o: CrawlOptions): Generator<Unit> {
  for (let i = 0; i < o.patients.length; i++) {
    const patient = o.patients[i]!;
    for (const plan of o.plans) {
      if (o.output.isDone(plan.type, i)) continue;
      yield { patient, plan, open: 0, failed: false, seen: new Set(), resources: 0 };
    }
  }
}
