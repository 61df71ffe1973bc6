/**
 * A real single-node Slurm cluster for tests (Slurm 22.05 and MUNGE from Debian 12), brought up
 * by hand with no systemd: our own munged, slurmctld and slurmd, all state in one folder, every
 * client command pointed at it by `SLURM_CONF`. A cluster writes nothing to /etc or /run.
 *
 * ```ts
 * const available = await slurmAvailability();
 * if (!available.ok) console.log(`skipped: ${available.reason}`);
 * await installSlurm();
 * await using cluster = await startCluster({ dir: await Deno.makeTempDir() });
 * const job = await cluster.sbatch(["--array=0-5%6", "task.sh"]);
 * await cluster.waitGone(job, 60_000);
 * const records = await cluster.jobcomp();
 * ```
 *
 * Signals (measured on 22.05.8, see README.md): a plain `scancel` sends SIGCONT and SIGTERM to
 * every process of the job, SIGKILL `KillWait` seconds later; the job ends CANCELLED and the
 * jobcomp log shows ExitCode 0:0 whatever the process then exits with. `scancel --signal=TERM
 * --full` sends SIGTERM to every process of the batch step and does not cancel: a process that
 * exits 130 ends FAILED with ExitCode 130:0.
 *
 * @module
 */

export { installSlurm, SLURM_PACKAGES, slurmAvailability } from "./install.ts";
export type { InstallResult, SlurmAvailability } from "./install.ts";
export { parseJobcomp } from "./jobcomp.ts";
export type { JobcompRecord } from "./jobcomp.ts";
export { SlurmCluster } from "./slurm_cluster.ts";
export type { QueuedTask, SbatchOptions, ScancelOptions } from "./slurm_cluster.ts";
export { startCluster } from "./start_cluster.ts";
export type { ClusterOptions } from "./start_cluster.ts";
