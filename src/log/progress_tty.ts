/**
 * Progress on a terminal: a live block of a few lines redrawn in place every ~200 ms, with
 * messages, retries and finished phases printed above it so they stay in the scrollback.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { ProgressEvent, Reporter } from "./events.ts";
import {
  cleanText,
  fileDoneText,
  formatCount,
  formatRate,
  messageText,
  phaseText,
  retryText,
  unreachableText,
  waitingParts,
} from "./progress_plain.ts";
import { ProgressState } from "./progress_state.ts";
import { formatBytes, formatDuration } from "./time_format.ts";

const ESC = "\x1b[";
const HIDE_CURSOR = `${ESC}?25l`;
const SHOW_CURSOR = `${ESC}?25h`;
/** Erases the current line. */
const CLEAR_LINE = `${ESC}2K`;
/** Erases from the cursor to the end of the screen. */
const CLEAR_BELOW = `${ESC}J`;
const YELLOW = `${ESC}33m`;
const RESET = `${ESC}0m`;
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/** More types than this are summarised in one line: the block must fit a small terminal. */
const MAX_TYPE_LINES = 10;
const BAR_WIDTH = 24;

/** Options of {@linkcode TtyReporter}. */
export interface TtyReporterOptions {
  /** Receives the output (main passes a stderr writer). */
  write: (text: string) => void;
  /** Where times come from. */
  clock: Clock;
  /** Print `verbose` messages and one line per downloaded file. @default false */
  verbose?: boolean;
  /** How often the block is redrawn. @default 200 */
  intervalMs?: number;
  /** Terminal width: block lines are cut to fit, as a wrapped line would break the redraw. @default 100 */
  columns?: number;
}

/** Draws a live progress block on a terminal. */
export class TtyReporter implements Reporter {
  /** The folded events. */
  readonly state: ProgressState;
  readonly #write: (text: string) => void;
  readonly #clock: Clock;
  readonly #verbose: boolean;
  readonly #intervalMs: number;
  readonly #columns: number;
  #timer: ReturnType<typeof setInterval> | null = null;
  /** Lines of the block currently on screen, just above the cursor. */
  #drawn = 0;
  #frame = 0;
  #cursorHidden = false;
  #closed = false;

  constructor(options: TtyReporterOptions) {
    this.#write = options.write;
    this.#clock = options.clock;
    this.#verbose = options.verbose ?? false;
    this.#intervalMs = options.intervalMs ?? 200;
    this.#columns = Math.max(20, options.columns ?? 100);
    this.state = new ProgressState(options.clock);
  }

  /** Folds the event in, prints messages above the block, and redraws on phase changes. */
  emit(event: ProgressEvent): void {
    if (this.#closed) {
      this.state.apply(event);
      const message = this.#messageOf(event);
      if (message) this.#write(message.prefix + cleanText(message.text) + "\n");
      return;
    }
    this.#startTimer();
    const previous = this.state.phase;
    // The finished phase goes to the scrollback with its duration, before the state moves on.
    const finished = event.type === "phase" && previous !== null && event.phase !== previous
      ? `✔ ${phaseText(this.state)} · ${
        formatDuration(this.#clock.now() - this.state.phaseStartedMs)
      }`
      : null;
    this.state.apply(event);
    const message = finished !== null ? { prefix: "", text: finished } : this.#messageOf(event);
    if (message) this.#above(message.prefix, message.text);
    else if (event.type === "phase" || event.type === "files-planned") this.#redraw();
  }

  /** Advances the spinner and redraws (the timer's job). */
  tick(): void {
    if (this.#closed) return;
    this.#frame = (this.#frame + 1) % SPINNER.length;
    this.#redraw();
  }

  /** Stops the timer, draws the final state without the spinner, and shows the cursor again. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.state.phase === null && !this.#cursorHidden) return;
    this.#write(this.#up() + this.#block(false) + CLEAR_BELOW + SHOW_CURSOR);
    this.#drawn = 0;
  }

  /** What an event prints above the block (a trusted coloured prefix and its text), or null. */
  #messageOf(event: ProgressEvent): { prefix: string; text: string } | null {
    switch (event.type) {
      case "message":
        if (event.level === "verbose" && !this.#verbose) return null;
        if (event.level === "warn") {
          return { prefix: `${YELLOW}warning${RESET}: `, text: event.text };
        }
        return { prefix: "", text: messageText(event) };
      case "retry":
        return { prefix: "", text: retryText(event) };
      case "file-done":
        return this.#verbose ? { prefix: "", text: fileDoneText(event) } : null;
      default:
        return null;
    }
  }

  #startTimer(): void {
    if (this.#timer !== null) return;
    const timer = setInterval(() => this.tick(), this.#intervalMs);
    // A forgotten close() must not keep the process alive.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Erases the block, prints the message into the scrollback, and draws the block below it. */
  #above(prefix: string, text: string): void {
    this.#write(this.#up() + CLEAR_BELOW + prefix + cleanText(text) + "\n" + this.#block(true));
  }

  #redraw(): void {
    if (this.state.phase === null) return;
    this.#write(this.#up() + this.#block(true) + CLEAR_BELOW);
  }

  /** Moves the cursor to the block's first line. */
  #up(): string {
    const n = this.#drawn;
    this.#drawn = 0;
    return n > 0 ? `${ESC}${n}A\r` : "";
  }

  /** The block's text, each line cleared first and cut to the terminal width. */
  #block(live: boolean): string {
    if (this.state.phase === null) return "";
    let prefix = "";
    if (!this.#cursorHidden) {
      prefix = HIDE_CURSOR;
      this.#cursorHidden = true;
    }
    const lines = blockLines(this.state, this.#clock.now(), live ? SPINNER[this.#frame]! : null);
    this.#drawn = lines.length;
    return prefix + lines.map((line) => `${CLEAR_LINE}${fit(line, this.#columns - 1)}\n`).join("");
  }
}

/** The block's lines at `now`; `spinner` null draws the final state. */
export function blockLines(state: ProgressState, now: number, spinner: string | null): string[] {
  const phase = state.phase;
  const mark = phase === "done" ? "✔" : spinner ?? "•";
  // The waiting line below counts from the kick-off already.
  const elapsed = phase === "done" || phase === "waiting"
    ? ""
    : ` · ${formatDuration(now - state.phaseStartedMs)}`;
  const lines = [`${mark} ${phaseText(state)}${elapsed}`];
  if (phase === "waiting") lines.push(`  ${waitingParts(state, now).join(" · ")}`);
  if (phase === "downloading" && state.planned) {
    const { total } = state.planned;
    const done = Math.min(state.filesDone, total);
    const filled = total > 0 ? Math.round((done / total) * BAR_WIDTH) : BAR_WIDTH;
    const bar = "█".repeat(filled) + "░".repeat(BAR_WIDTH - filled);
    const parts = [
      `${formatCount(done)}/${formatCount(total)} files`,
      formatBytes(state.receivedBytes),
      formatRate(state.throughput(now)),
    ];
    if (state.retries > 0) {
      parts.push(`${state.retries} ${state.retries === 1 ? "retry" : "retries"}`);
    }
    lines.push(`  ${bar} ${parts.join(" · ")}`);
  }
  if (phase === "hydrating" && state.hydrating) {
    const h = state.hydrating;
    lines.push(
      `  ${h.task} (${h.detail}): ${formatCount(h.ok)} done, ${formatCount(h.failed)} failed`,
    );
  } else if (state.crawl.active && (phase === "crawling" || phase === "finishing")) {
    lines.push(`  ${state.crawl.statusLine(now)}`);
    lines.push(...state.crawl.barLines());
  } else if (phase === "downloading" || phase === "finishing" || phase === "done") {
    lines.push(...typeLines(state));
  }
  const away = unreachableText(state);
  if (away && phase !== "waiting") lines.push(`  ${away[0]!.toUpperCase()}${away.slice(1)}`);
  if (state.inProgress.size > 0) {
    const files = [...state.inProgress.values()].map((f) => `${f.name} ${formatBytes(f.bytes)}`);
    lines.push(`  In progress: ${files.join(", ")}`);
  }
  return lines.map(cleanText).map((line) => line.replaceAll("\n", " "));
}

/** One aligned line per resource type: files, resources, bytes. */
function typeLines(state: ProgressState): string[] {
  const types = [...state.byType];
  const shown = types.length > MAX_TYPE_LINES ? types.slice(0, MAX_TYPE_LINES - 1) : types;
  const width = Math.max(0, ...shown.map(([type]) => type.length));
  const lines = shown.map(([type, t]) =>
    `  ${type.padEnd(width)}  ${formatCount(t.files).padStart(5)} file${
      t.files === 1 ? " " : "s"
    }` +
    `  ${formatCount(t.resources).padStart(11)} resources  ${formatBytes(t.bytes).padStart(8)}`
  );
  if (shown.length < types.length) lines.push(`  … and ${types.length - shown.length} more types`);
  return lines;
}

/** Cuts `line` to `width` characters (code points), marking the cut with an ellipsis. */
function fit(line: string, width: number): string {
  const chars = Array.from(line);
  return chars.length <= width ? line : chars.slice(0, width - 1).join("") + "…";
}
