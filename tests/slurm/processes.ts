/**
 * Process plumbing for the test Slurm cluster: running a command with a deadline, and stopping
 * processes by PID (SIGTERM, a bounded wait, then SIGKILL).
 *
 * @module
 */

/** What a finished command printed and returned. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  /** Variables added to this process's environment (see {@link commandEnv}). */
  env?: Record<string, string>;
  /** Working directory. @default this process's */
  cwd?: string;
  /** Kill the command (SIGKILL) after this long. @default 60_000 */
  timeoutMs?: number;
}

/** Runs a command to completion and collects its output; never throws for a non-zero exit. */
export async function run(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const command = new Deno.Command(cmd, {
    args,
    env: commandEnv(options.env ?? {}),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  let out: Deno.CommandOutput;
  try {
    out = await command.output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`Cannot run "${cmd}": not found on PATH`);
    }
    throw e;
  }
  const decoder = new TextDecoder();
  const result = {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
  if (out.signal === "SIGKILL") {
    throw new Error(
      `"${cmd} ${args.join(" ")}" did not finish within ${timeoutMs} ms\n${result.stderr}`,
    );
  }
  return result;
}

/**
 * This process's environment without Slurm's input variables (SLURM_*, SBATCH_*, SQUEUE_* ...,
 * set when the tests run inside a Slurm job: SLURM_CONF would point elsewhere, SBATCH_PARTITION
 * would name a partition we lack), plus `extra`.
 */
export function commandEnv(extra: Record<string, string>): Record<string, string> {
  const env = Deno.env.toObject();
  for (const key of Object.keys(env)) {
    if (/^(SLURM|SBATCH|SALLOC|SRUN|SQUEUE|SINFO|SCANCEL|SCONTROL|SACCT)_/.test(key)) {
      delete env[key];
    }
  }
  return { ...env, ...extra };
}

/** Like {@link run}, but throws (with the command's stderr) unless it exits 0. */
export async function runOk(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<string> {
  const r = await run(cmd, args, options);
  if (r.code !== 0) {
    throw new Error(
      `"${cmd} ${args.join(" ")}" exited with ${r.code}: ${(r.stderr || r.stdout).trim()}`,
    );
  }
  return r.stdout;
}

/** The kernel's start time of a process (clock ticks since boot), or null when it is gone. */
export function startTime(pid: number): string | null {
  const stat = readProc(pid, "stat");
  if (stat === null) return null;
  // The command name (field 2) may hold spaces and parentheses: fields count from the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); a zombie has exited and only waits to be reaped.
  if (fields[0] === "Z") return null;
  return fields[19] ?? null;
}

/** Options of {@link stopPids}. */
export interface StopOptions {
  /** How long to wait after SIGTERM before SIGKILL. @default 5_000 */
  graceMs?: number;
  /** Send SIGKILL at once, without SIGTERM first. @default false */
  kill?: boolean;
}

/**
 * Stops processes by PID: SIGTERM, wait up to `graceMs` for them to exit, SIGKILL the rest and
 * wait for those too. Returns the PIDs that needed SIGKILL. Throws if any survives SIGKILL.
 */
export async function stopPids(pids: number[], options: StopOptions = {}): Promise<number[]> {
  const starts = new Map(pids.map((p) => [p, startTime(p)] as const));
  // A PID whose start time changed was reused by an unrelated process: never signal that one.
  const alive = () =>
    [...starts].filter(([p, s]) => s !== null && startTime(p) === s).map(([p]) => p);
  const killed: number[] = [];
  if (!options.kill) {
    for (const p of alive()) signal(p, "SIGTERM");
    await waitFor(() => alive().length === 0, options.graceMs ?? 5_000);
  }
  for (const p of alive()) {
    killed.push(p);
    signal(p, "SIGKILL");
  }
  await waitFor(() => alive().length === 0, 5_000);
  const left = alive();
  if (left.length) throw new Error(`Processes ${left.join(", ")} survived SIGKILL`);
  return killed;
}

/** Sends a signal, ignoring a process that has already gone. */
export function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Polls `done` every `intervalMs` until it is true or `timeoutMs` passed; returns the last answer. */
export async function waitFor(
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A file of /proc/<pid>/, or null when the process is gone (or the file unreadable). */
export function readProc(pid: number, file: string): string | null {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/${file}`);
  } catch {
    return null;
  }
}
