/**
 * Progress as plain timestamped lines, for when stderr is not a terminal (Slurm log files,
 * containers): milestones, messages, retries, and one status line every 30 s while waiting or
 * downloading. No ANSI codes. Also the sentences the TTY display prints above its live block.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Phase, ProgressEvent, Reporter } from "./events.ts";
import { ProgressState } from "./progress_state.ts";
import { formatBytes, formatDuration, localDateTime } from "./time_format.ts";

/** Options of {@linkcode PlainReporter}. */
export interface PlainReporterOptions {
  /** Receives the output, whole lines ending in `\n` (main passes a stderr writer). */
  write: (text: string) => void;
  /** Where times come from. */
  clock: Clock;
  /** Print `verbose` messages and one line per downloaded file. @default false */
  verbose?: boolean;
  /** How often a status line is printed while waiting or downloading. @default 30_000 */
  intervalMs?: number;
}

/** Prints progress as plain timestamped lines. */
export class PlainReporter implements Reporter {
  /** The folded events (read by tests and by the final summary). */
  readonly state: ProgressState;
  readonly #write: (text: string) => void;
  readonly #clock: Clock;
  readonly #verbose: boolean;
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | null = null;
  #printedPhase: Phase | null = null;
  /** The downloading line waits for `files-planned`, which carries its counts. */
  #downloadingPending = false;
  #closed = false;

  constructor(options: PlainReporterOptions) {
    this.#write = options.write;
    this.#clock = options.clock;
    this.#verbose = options.verbose ?? false;
    this.#intervalMs = options.intervalMs ?? 30_000;
    this.state = new ProgressState(options.clock);
  }

  /** Folds the event in and prints what it warrants. */
  emit(event: ProgressEvent): void {
    this.state.apply(event);
    switch (event.type) {
      case "phase":
        if (event.phase === this.#printedPhase) break;
        if (this.#downloadingPending) this.#line("Downloading files");
        this.#printedPhase = event.phase;
        this.#downloadingPending = event.phase === "downloading";
        if (!this.#downloadingPending) this.#line(phaseText(this.state));
        this.#syncTimer();
        break;
      case "files-planned":
        this.#downloadingPending = false;
        this.#line(plannedText(event.total, event.alreadyDone));
        break;
      case "file-done":
        if (this.#verbose) this.#line(fileDoneText(event));
        break;
      case "retry":
        this.#line(retryText(event));
        break;
      case "message":
        if (event.level !== "verbose" || this.#verbose) this.#line(messageText(event));
        break;
      case "unreachable":
      case "reachable":
        this.#syncTimer();
        break;
      case "waiting":
      case "file-start":
      case "file-bytes":
      case "crawl-planned":
      case "crawl-page":
      case "crawl-unit":
      case "hydrate-target":
        break;
      case "hydrate-task":
        this.#line(`Hydrating: ${event.task} (${event.detail})`);
        break;
    }
  }

  /** Prints the periodic status line, if the run is waiting or downloading (the timer's job). */
  tick(): void {
    const line = statusText(this.state, this.#clock.now());
    if (line) this.#line(line);
  }

  /** Stops the status timer. Prints nothing. */
  close(): void {
    this.#closed = true;
    this.#stopTimer();
  }

  /** Runs the timer only in the phases that print status lines, or while the server is away. */
  #syncTimer(): void {
    const phase = this.state.phase;
    const active = !this.#closed &&
      (phase === "waiting" || phase === "downloading" || phase === "crawling" ||
        phase === "hydrating" || this.state.unreachable !== null);
    if (!active) this.#stopTimer();
    else if (this.#timer === null) {
      const timer = setInterval(() => this.tick(), this.#intervalMs);
      // A forgotten close() must not keep the process alive.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  #stopTimer(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Writes `text` with a timestamp on each of its lines. */
  #line(text: string): void {
    const stamp = `[${localDateTime(this.#clock.now())}] `;
    this.#write(cleanText(text).split("\n").map((line) => stamp + line + "\n").join(""));
  }
}

// ---- Sentences shared by both renderers ----

/** `1234567` as `1,234,567`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** A throughput for people: `85.3 MB/s`. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/**
 * Removes control characters (ANSI escapes included) from text that came from a server or a
 * file, so it cannot move the cursor or recolour the terminal. Newlines and tabs stay.
 */
export function cleanText(text: string): string {
  return text.replace(/\r\n?/g, "\n")
    // deno-lint-ignore no-control-regex
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]/g, "") // whole CSI and two-byte escapes
    // deno-lint-ignore no-control-regex
    .replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, "");
}

/** A `message` event as a line: warnings get a `warning: ` prefix. */
export function messageText(event: { level: string; text: string }): string {
  return event.level === "warn" ? `warning: ${event.text}` : event.text;
}

/** Longest retry line: one line each, naming the URL once. */
const MAX_RETRY_LINE = 160;

/** A `retry` event as one line of at most 160 characters. */
export function retryText(event: Extract<ProgressEvent, { type: "retry" }>): string {
  const line = `Retry ${event.attempt} in ${
    formatDuration(event.delayMs)
  }: ${event.what}: ${event.reason}`.replace(/\s+/g, " ");
  return line.length > MAX_RETRY_LINE ? `${line.slice(0, MAX_RETRY_LINE - 3)}...` : line;
}

/** `server unreachable since 21:24:07 (16 retries)`, or null while it answers. */
export function unreachableText(state: ProgressState): string | null {
  const away = state.unreachable;
  if (!away) return null;
  const time = localDateTime(away.sinceMs).slice(11);
  return `server unreachable since ${time} (${away.retries} ${
    away.retries === 1 ? "retry" : "retries"
  })`;
}

/** A `file-done` event as a line (verbose output). */
export function fileDoneText(event: Extract<ProgressEvent, { type: "file-done" }>): string {
  return `Downloaded ${event.name} (${formatBytes(event.bytes)}, ${
    formatCount(event.resources)
  } resources)`;
}

/** The line announcing the downloads, once the manifest's counts are known. */
export function plannedText(total: number, alreadyDone: number): string {
  if (total === 0) return "The export has no files to download";
  if (alreadyDone >= total) return `All ${formatCount(total)} files are already here`;
  const files = `${formatCount(total)} file${total === 1 ? "" : "s"}`;
  return alreadyDone > 0
    ? `Downloading ${files} (${formatCount(alreadyDone)} already here)`
    : `Downloading ${files}`;
}

/** The line announcing the current phase. */
export function phaseText(state: ProgressState): string {
  const detail = state.detail;
  switch (state.phase) {
    case "connecting":
      return detail ? `Connecting to ${detail}` : "Connecting to the server";
    case "kickoff":
      return detail ? `Kicking off a bulk export of ${detail}` : "Kicking off a bulk export";
    case "waiting":
      return "Waiting for the server to prepare the export";
    case "downloading":
      return state.planned
        ? plannedText(state.planned.total, state.planned.alreadyDone)
        : "Downloading files";
    case "cohort":
      return "Finding the cohort's patients";
    case "crawling":
      return detail ? `Crawling ${detail}` : "Crawling";
    case "hydrating":
      return detail ? `Hydrating: ${detail}` : "Hydrating";
    case "finishing":
      return "Finishing";
    case "done":
      return doneText(state);
    case null:
      return "Starting";
  }
}

/** The closing line: how long the run took and what it downloaded. */
export function doneText(state: ProgressState): string {
  const took = formatDuration(state.phaseStartedMs - state.runStartedMs);
  const t = state.totals;
  if (state.crawl.active && t.files === 0) {
    return `Done in ${took}: ${formatCount(state.crawl.requests)} searches, ${
      formatCount(state.crawl.resources)
    } resources`;
  }
  if (t.files === 0) return `Done in ${took}`;
  const files = `${formatCount(t.files)} file${t.files === 1 ? "" : "s"}`;
  return `Done in ${took}: downloaded ${files}, ${formatBytes(t.bytes)}, ${
    formatCount(t.resources)
  } resources`;
}

/** What the waiting phase looks like at `now`, without the leading words. */
export function waitingParts(state: ProgressState, now: number): string[] {
  const waiting = state.waiting;
  const since = waiting?.exportStartedMs ?? state.phaseStartedMs;
  const parts = [`${formatDuration(now - since)} so far`];
  if (waiting?.xProgress) parts.push(`server says "${waiting.xProgress}"`);
  const away = unreachableText(state);
  const next = state.nextPollInMs(now);
  if (away) parts.push(away);
  else if (next !== null) {
    // Whole seconds, rounded up: a wait that is not over never reads "0s".
    parts.push(
      next > 0 ? `next check in ${formatDuration(Math.ceil(next / 1000) * 1000)}` : "checking now",
    );
  }
  return parts;
}

/** The periodic status line, or null outside the waiting and downloading phases. */
export function statusText(state: ProgressState, now: number): string | null {
  if (state.phase === "waiting") {
    return `Still waiting for the export: ${waitingParts(state, now).join("; ")}`;
  }
  if (state.phase === "hydrating" && state.hydrating) {
    const h = state.hydrating;
    return `Hydrating ${h.task}: ${formatCount(h.ok)} done, ${formatCount(h.failed)} failed`;
  }
  if (state.phase === "crawling" && state.crawl.active) {
    const away = unreachableText(state);
    return state.crawl.statusLine(now) + (away ? `; ${away}` : "");
  }
  if (state.phase !== "downloading" || !state.planned) {
    const away = unreachableText(state);
    return away ? `Still trying: ${away}` : null;
  }
  const parts = [
    `Downloaded ${formatCount(state.filesDone)} of ${formatCount(state.planned.total)} files`,
    formatBytes(state.receivedBytes),
    `${formatCount(state.totals.resources)} resources`,
  ];
  const status = [
    parts.join(", "),
    `${state.inProgress.size} in progress`,
    formatRate(state.throughput(now)),
  ];
  if (state.retries > 0) {
    status.push(`${state.retries} ${state.retries === 1 ? "retry" : "retries"}`);
  }
  const away = unreachableText(state);
  if (away) status.push(away);
  return status.join("; ");
}
