/** Running the real program in tests: in-process (with a fake clock) or as a subprocess. */

import { fileURLToPath } from "node:url";
import { main } from "../../main.ts";
import type { Clock } from "../../src/clock.ts";
import type { ProgressEvent } from "../../src/log/events.ts";
import { PlainReporter } from "../../src/log/progress_plain.ts";

/** What a run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
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
  const events: ProgressEvent[] = [];
  const code = await main(argv, {
    clock: options.clock,
    stdout: (t) => (stdout += t),
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
  return { code, stdout, stderr, events };
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

/** Runs the program as a subprocess to the end. */
export async function runCliProcess(
  argv: string[],
  options: SpawnOptions = {},
): Promise<Omit<CliResult, "events">> {
  const out = await spawnCli(argv, options).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}
