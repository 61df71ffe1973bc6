/**
 * smart-fetch for Deno: parse argv -> run one command -> exit code.
 * The only place that prints `error: ...` and picks the exit code (STYLE: core throws, main decides).
 */

import { CommanderError } from "commander";
import { buildProgram } from "./src/cli/program.ts";
import { type Clock, systemClock } from "./src/clock.ts";
import type { CommandContext } from "./src/commands/bulk_run.ts";
import { ExitCode, SmartFetchError } from "./src/errors.ts";
import type { Reporter } from "./src/log/events.ts";
import { createReporter } from "./src/log/reporter.ts";
import { isVerifyWorker, serveFileChecks } from "./src/verify/worker_serve.ts";
import { removeHeldLocksSync } from "./src/workspace/lock.ts";

/** What main needs from the outside world; tests pass their own. */
export interface MainContext {
  clock: Clock;
  stdout: (text: string) => void;
  /** Raw bytes for standard output (`single --binary`); commands that need it fail without. */
  stdoutBytes?: ((bytes: Uint8Array) => void) | undefined;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (live progress) or a log file (plain lines). */
  isTty: boolean;
  signal?: AbortSignal | undefined;
  /** Makes the reporter; tests may collect events instead. */
  reporter?: (verbose: boolean) => Reporter;
  /** Terminal width, for the live display. */
  columns?: number | undefined;
}

const encoder = new TextEncoder();

/** The real world. */
export function defaultContext(): MainContext {
  const isTty = Deno.stderr.isTerminal();
  let columns: number | undefined;
  try {
    columns = isTty ? Deno.consoleSize().columns : undefined;
  } catch {
    columns = undefined;
  }
  return {
    clock: systemClock,
    stdout: (text) => writeAllSync(Deno.stdout, encoder.encode(text)),
    stdoutBytes: (bytes) => writeAllSync(Deno.stdout, bytes),
    stderr: (text) => writeAllSync(Deno.stderr, encoder.encode(text)),
    isTty,
    columns,
  };
}

/** Outputs whose reader went away (`smart-fetch help | head`): later writes are dropped. */
const closed = new Set<unknown>();

function writeAllSync(out: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  if (closed.has(out)) return;
  let at = 0;
  try {
    while (at < bytes.length) at += out.writeSync(bytes.subarray(at));
  } catch (err) {
    // A closed pipe is the reader's choice, not an error: stop writing, quietly.
    if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
    closed.add(out);
  }
}

/** Runs the program with `argv` (without the program name). Returns the exit code. */
export async function main(argv: string[], ctx: MainContext = defaultContext()): Promise<number> {
  // -v on the command line, or verbose set through a config file or the environment.
  let verbose = argv.includes("-v") || argv.includes("--verbose");
  let exitCode: number = ExitCode.Ok;
  let reporter: Reporter | undefined;
  const program = buildProgram({
    context: (v): CommandContext => {
      verbose ||= v;
      reporter = ctx.reporter?.(v) ??
        createReporter({
          isTty: ctx.isTty,
          verbose: v,
          write: ctx.stderr,
          clock: ctx.clock,
          ...(ctx.columns ? { columns: ctx.columns } : {}),
        });
      // Results go to stdout once the work is done: draw the progress display's final state
      // first, so the live display never redraws over them.
      const out = (text: string) => {
        reporter?.close();
        reporter = undefined;
        ctx.stdout(text);
      };
      const stdoutBytes = ctx.stdoutBytes;
      const outBytes = stdoutBytes &&
        ((bytes: Uint8Array) => {
          reporter?.close();
          reporter = undefined;
          stdoutBytes(bytes);
        });
      return { clock: ctx.clock, reporter, out, outBytes, signal: ctx.signal };
    },
    setExitCode: (code) => {
      exitCode = code;
    },
    writeOut: ctx.stdout,
    writeErr: ctx.stderr,
  });
  try {
    if (argv.length === 0) {
      ctx.stdout(program.helpInformation());
      return ExitCode.Usage;
    }
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (or the help/version text).
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    reporter?.close();
    reporter = undefined;
    if (err instanceof SmartFetchError) {
      ctx.stderr(`error: ${err.message}\n`);
      if (verbose && err.stack) ctx.stderr(`${err.stack}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    ctx.stderr(`error: ${message}\n`);
    if (verbose && err instanceof Error && err.stack) ctx.stderr(`${err.stack}\n`);
    else ctx.stderr("(run with --verbose to see where it happened)\n");
    return ExitCode.Failure;
  } finally {
    reporter?.close();
  }
}

if (import.meta.main && isVerifyWorker()) {
  // `verify`'s pool started the program itself in a worker (the bundle and the binary).
  serveFileChecks();
} else if (import.meta.main) {
  // Every write is crash-safe, so an interruption needs no clean-up: say so and stop at once.
  // The folder lock is an OS lock and goes with the process.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      // Show the cursor again in case the live display hid it.
      const showCursor = Deno.stderr.isTerminal() ? "\x1b[?25h" : "";
      Deno.stderr.writeSync(
        encoder.encode(
          `${showCursor}\nInterrupted (${signal}). Run the same command again to resume.\n`,
        ),
      );
      removeHeldLocksSync();
      Deno.exit(ExitCode.Interrupted);
    });
  }
  Deno.exit(await main(Deno.args));
}
