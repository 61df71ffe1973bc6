/**
 * Picks the progress display: a live block on a terminal, timestamped lines otherwise (Slurm
 * logs, containers), or silence for tests.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { ProgressEvent, Reporter } from "./events.ts";
import { PlainReporter } from "./progress_plain.ts";
import { TtyReporter } from "./progress_tty.ts";

/** Options of {@linkcode createReporter}. */
export interface ReporterOptions {
  /** Whether the output is a terminal (main passes `Deno.stderr.isTerminal()`). */
  isTty: boolean;
  /** Show `verbose` messages and one line per downloaded file. */
  verbose: boolean;
  /** Receives the output (main passes a stderr writer). */
  write: (text: string) => void;
  /** Where times come from. */
  clock: Clock;
  /** Status line period (plain) or redraw period (terminal). @default 30_000 plain, 200 terminal */
  intervalMs?: number;
  /** Terminal width, for the live block. @default 100 */
  columns?: number;
}

/** The reporter for an output: {@linkcode TtyReporter} on a terminal, else {@linkcode PlainReporter}. */
export function createReporter(options: ReporterOptions): Reporter {
  const { write, clock, verbose } = options;
  const interval = options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs };
  if (!options.isTty) return new PlainReporter({ write, clock, verbose, ...interval });
  const columns = options.columns === undefined ? {} : { columns: options.columns };
  return new TtyReporter({ write, clock, verbose, ...interval, ...columns });
}

/** Prints nothing and keeps every event, for tests and `--quiet` style runs. */
export class SilentReporter implements Reporter {
  /** Every event received, in order. */
  readonly events: ProgressEvent[] = [];
  /** Whether close() was called. */
  closed = false;

  /** Records the event. */
  emit(event: ProgressEvent): void {
    this.events.push(event);
  }

  /** Marks the reporter closed. */
  close(): void {
    this.closed = true;
  }
}
