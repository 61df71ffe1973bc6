/** Running the real program in tests: in-process (with a fake clock) or as a subprocess. */

import { fileURLToPath } from "node:url";
import { main } from "../../main.ts";
import type { Clock } from "../../src/clock.ts";
import type { ProgressEvent } from "../../src/log/events.ts";
import { PlainReporter } from "../../src/log/progress_plain.ts";

/** What a run printed and returned. */
export interface CliResult {
  code: number;
  /** The text written to stdout. */
  stdout: string;
  /**
   * Every byte written to stdout, in order: the text (UTF-8) and raw bytes (`single --binary`).
   */
  stdoutBytes: Uint8Array;
  stderr: string;
  /** Every progress event (in-process runs only). */
  events: ProgressEvent[];
}

/** The repository's main.ts. */
export const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

/**
 * Runs the program in this process, as a user would from a Slurm job (plain progress lines to
 * stderr). Pass a FakeClock to make waits instant.
 */
export async function runCli(
  argv: string[],
  options: { clock: Clock; verbose?: boolean },
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const chunks: Uint8Array[] = [];
  const events: ProgressEvent[] = [];
  const code = await main(argv, {
    clock: options.clock,
    stdout: (t) => {
      stdout += t;
      chunks.push(new TextEncoder().encode(t));
    },
    // Copied: the caller may reuse its buffer (STYLE: a chunk is borrowed).
    stdoutBytes: (b) => chunks.push(b.slice()),
    stderr: (t) => (stderr += t),
    isTty: false,
    reporter: (verbose) => {
      const plain = new PlainReporter({
        write: (t) => (stderr += t),
        clock: options.clock,
        verbose,
        intervalMs: 3_600_000,
      });
      return {
        emit: (e) => {
          events.push(e);
          plain.emit(e);
        },
        close: () => plain.close(),
      };
    },
  });
  return { code, stdout, stdoutBytes: concatBytes(chunks), stderr, events };
}

function concatBytes(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Options for {@linkcode spawnCli}. */
export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
}

/** Starts the program as a subprocess (`deno run -A main.ts ...`). */
export function spawnCli(argv: string[], options: SpawnOptions = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...argv],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  }).spawn();
}

/** SIGKILLs a child (if it still runs) and waits for it to end. */
export async function killChild(child: Deno.ChildProcess): Promise<Deno.CommandStatus> {
  try {
    child.kill("SIGKILL");
  } catch {
    // It may have finished already.
  }
  const status = await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  return status;
}

/** Starts the program, SIGKILLs it after `ms` (unless it ended), and returns how it ended. */
export async function runAndKill(
  argv: string[],
  ms: number,
  options: SpawnOptions = {},
): Promise<Deno.CommandStatus> {
  const child = spawnCli(argv, options);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return await killChild(child);
}

/** Runs the program as a subprocess to the end. */
export async function runCliProcess(
  argv: string[],
  options: SpawnOptions = {},
): Promise<Omit<CliResult, "events">> {
  const out = await spawnCli(argv, options).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    code: out.code,
    stdout: decode(out.stdout),
    stdoutBytes: out.stdout,
    stderr: decode(out.stderr),
  };
}
