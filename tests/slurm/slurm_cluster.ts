/**
 * A running test cluster: the Slurm commands a test needs, pointed at it, and stop().
 *
 * @module
 */

import { clusterProcesses } from "./cluster_processes.ts";
import { type Daemon, ownerEnv, tail } from "./daemons.ts";
import { type JobcompRecord, parseJobcomp } from "./jobcomp.ts";
import { run, runOk, stopPids, waitFor } from "./processes.ts";

/** A job or array task still known to squeue (pending, running or completing). */
export interface QueuedTask {
  /** The task's own job id. */
  jobId: number;
  /** The array's job id (equals `jobId` for a job that is no array). */
  arrayJobId: number;
  /** The array index, or null for a job that is no array. */
  taskId: number | null;
  /** PENDING, RUNNING, COMPLETING, ... */
  state: string;
}

/** Options of {@link SlurmCluster.sbatch}. */
export interface SbatchOptions {
  /** Variables added to the submitter's environment (the job inherits it: --export=ALL). */
  env?: Record<string, string>;
  /** Where to submit from (the job's working directory and where slurm-%j.out goes). */
  cwd?: string;
}

/** Options of {@link SlurmCluster.scancel}. */
export interface ScancelOptions {
  /**
   * Send this signal instead of cancelling. With it, `full` defaults to true, since without
   * --full or --batch Slurm never signals the batch script's processes.
   */
  signal?: Deno.Signal;
  /** Signal every process of the batch step (`--full`). @default true with `signal` */
  full?: boolean;
}

/** A running test cluster. Stop it with {@link SlurmCluster.stop} (or `await using`). */
export class SlurmCluster implements AsyncDisposable {
  /** The variables every Slurm command needs (SLURM_CONF, and our process marker). */
  readonly env: Readonly<Record<string, string>>;
  /** How long start-up took, from the first file written to the node being idle. */
  startupMs = 0;
  /** Processes of killed earlier tests that start-up stopped (command lines). */
  reaped: string[] = [];
  #daemons: Daemon[] = [];
  #stopped = false;

  /** Use {@link startCluster}. */
  constructor(
    /** The cluster's folder. */
    readonly dir: string,
    /** The node's name (the short host name). */
    readonly host: string,
    /** The value of SMART_FETCH_SLURM_OWNER that marks the cluster's processes. */
    readonly marker: string,
  ) {
    this.env = { SLURM_CONF: `${dir}/slurm.conf`, ...ownerEnv(marker) };
  }

  /** The daemons (name and PID), in start order. */
  get daemons(): readonly Daemon[] {
    return this.#daemons;
  }

  /** @internal Records a started daemon, so that stop() stops it whatever happens next. */
  adopt(daemon: Daemon): void {
    this.#daemons.push(daemon);
  }

  /** Runs a Slurm client command with the cluster's environment; throws unless it exits 0. */
  async command(name: string, args: string[], options: SbatchOptions = {}): Promise<string> {
    try {
      return await runOk(name, args, {
        env: { ...options.env, ...this.env },
        timeoutMs: 30_000,
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      });
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : e}${this.#health()}`);
    }
  }

  /** Submits a batch job (`--parsable` is added); returns its job id (an array's id). */
  async sbatch(args: string[], options: SbatchOptions = {}): Promise<number> {
    const out = await this.command("sbatch", ["--parsable", ...args], options);
    const id = Number(out.trim().split(";")[0]);
    if (!Number.isInteger(id)) throw new Error(`sbatch printed no job id: ${JSON.stringify(out)}`);
    return id;
  }

  /** The job's (or the array's) tasks still queued, running or completing; [] once all are gone. */
  async squeue(jobId: number | string): Promise<QueuedTask[]> {
    const r = await run("squeue", ["-h", "-r", `-j${jobId}`, "-o", "%A|%F|%K|%T"], {
      env: this.env,
    });
    // A job the controller has forgotten (MinJobAge after its end) is "Invalid job id".
    if (r.code !== 0 && /Invalid job id/.test(r.stderr)) return [];
    if (r.code !== 0) {
      throw new Error(
        `squeue -j${jobId} exited with ${r.code}: ${r.stderr.trim()}${this.#health()}`,
      );
    }
    return r.stdout.trim().split("\n").filter((l) => l).map((line) => {
      const [id, arrayId, task, state] = line.split("|");
      return {
        jobId: Number(id),
        arrayJobId: Number(arrayId),
        taskId: task === undefined || task === "N/A" ? null : Number(task),
        state: state ?? "",
      };
    });
  }

  /**
   * Polls squeue every 250 ms until nothing of the job is left (not even COMPLETING: its
   * processes are gone too); throws after `timeoutMs`. Not `sbatch --wait`, which polls slowly.
   */
  async waitGone(jobId: number | string, timeoutMs: number): Promise<void> {
    let last: QueuedTask[] = [];
    const gone = await waitFor(
      async () => (last = await this.squeue(jobId)).length === 0,
      timeoutMs,
      250,
    );
    if (!gone) {
      throw new Error(
        `Job ${jobId} still queued after ${timeoutMs} ms: ${
          last.map((t) => `${t.arrayJobId}_${t.taskId ?? ""}=${t.state}`).join(" ")
        }\n${await this.logs()}`,
      );
    }
  }

  /** Cancels a job, an array or one task (`12_3`), or sends it a signal (see the options). */
  async scancel(target: number | string, options: ScancelOptions = {}): Promise<void> {
    const args: string[] = [];
    if (options.signal) args.push(`--signal=${options.signal.replace(/^SIG/, "")}`);
    if (options.full ?? options.signal !== undefined) args.push("--full");
    await this.command("scancel", [...args, String(target)]);
  }

  /** Runs `scontrol` (e.g. `["requeue", "12_3"]`) and returns its output. */
  async scontrol(args: string[]): Promise<string> {
    return await this.command("scontrol", args);
  }

  /** Every record of the jobcomp log so far (finished jobs and requeues), in the order written. */
  async jobcomp(): Promise<JobcompRecord[]> {
    try {
      return parseJobcomp(await Deno.readTextFile(`${this.dir}/jobcomp.log`));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  }

  /** The last lines of each daemon's log, for the message of a failed test. */
  async logs(lines = 30): Promise<string> {
    const parts: string[] = [];
    for (const d of this.#daemons) {
      const exit = d.exited &&
        `exited with ${d.exited.code}${d.exited.signal ? ` (${d.exited.signal})` : ""}`;
      let file = d.logFile;
      let text = await tail(file, lines);
      // With -D, slurmctld and slurmd log to both; only stderr has what came before the log
      // file was opened (a slurm.conf it cannot parse, say).
      if (file !== d.outputFile && (text.startsWith("(cannot read") || !text.trim())) {
        file = d.outputFile;
        text = await tail(file, lines);
      }
      parts.push(`--- ${d.name} (pid ${d.pid}, ${exit || "running"}) ${file}\n${text}`);
    }
    return parts.join("\n");
  }

  /**
   * Stops everything of the cluster by PID: slurmd and slurmctld, then slurmstepd and job
   * processes (by their marker or their open slurmd.log), then munged; each SIGTERM, then SIGKILL
   * after a bound (5 s for daemons, 2 s for job processes).
   * Safe to call twice. Throws if a process survives SIGKILL.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const pids = (names: string[]) =>
      this.#daemons.filter((d) => names.includes(d.name)).map((d) => d.pid);
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (e) {
        errors.push(e);
      }
    };
    await attempt(() => stopPids(pids(["slurmd", "slurmctld"])));
    await attempt(() => {
      const left = clusterProcesses(this.dir).filter((p) => !pids(["munged"]).includes(p.pid));
      return stopPids(left.map((p) => p.pid), { graceMs: 2_000 });
    });
    await attempt(() => stopPids(pids(["munged"])));
    if (errors.length) {
      throw new AggregateError(
        errors,
        `Cannot stop the Slurm cluster in ${this.dir}: ${errors.join("; ")}`,
      );
    }
    // Reap our children, so that no zombie is left either.
    await Promise.all(this.#daemons.map((d) => d.status));
  }

  /** " (slurmd exited with 137 (SIGKILL))" when daemons died, for error messages; else "". */
  #health(): string {
    const dead = this.#daemons.filter((d) => d.exited);
    if (!dead.length) return "";
    return ` (${
      dead.map((d) =>
        `${d.name} exited with ${d.exited?.code}${d.exited?.signal ? ` (${d.exited.signal})` : ""}`
      )
        .join(", ")
    })`;
  }

  /** Stops the cluster (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
