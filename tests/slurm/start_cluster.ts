/**
 * Bringing a test cluster up: our munged, slurm.conf, slurmctld and slurmd, then waiting for
 * the node to be idle.
 *
 * @module
 */

import { resolve } from "node:path";
import { ownerMarker } from "./cluster_processes.ts";
import { reapOrphans, spawnDaemon } from "./daemons.ts";
import { run, waitFor } from "./processes.ts";
import { SlurmCluster } from "./slurm_cluster.ts";
import { realMemoryMb, slurmConf } from "./slurm_conf.ts";

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** The folder for everything of the cluster (a fresh temporary folder); created if missing. */
  dir: string;
  /** CPUs the node advertises, whatever it has: one per concurrently running 1-CPU task. @default 8 */
  cpus?: number;
  /** Seconds from a cancel's SIGTERM to its SIGKILL (slurm.conf KillWait). @default 5 */
  killWaitSeconds?: number;
  /**
   * Seconds a requeued job waits before it may run again (AuthInfo cred_expire; Slurm rejects
   * less than 5 and then silently uses 120). @default 5
   */
  requeueDelaySeconds?: number;
  /** How long to wait for the node to become idle. @default 30_000 */
  startTimeoutMs?: number;
}

/**
 * Starts munged, slurmctld and slurmd with all state under `options.dir`, and waits until the
 * node is idle. On failure, whatever started is stopped and the error holds the logs' tails.
 */
export async function startCluster(options: ClusterOptions): Promise<SlurmCluster> {
  const t0 = performance.now();
  const dir = resolve(options.dir);
  const host = Deno.hostname().split(".")[0] ?? "localhost";
  const credExpire = options.requeueDelaySeconds ?? 5;
  if (!Number.isInteger(credExpire) || credExpire < 5) {
    throw new Error(`requeueDelaySeconds must be a whole number of at least 5, not ${credExpire}`);
  }
  if (/\s/.test(dir)) {
    throw new Error(`The cluster folder "${dir}" holds a blank: slurm.conf cannot`);
  }
  const cluster = new SlurmCluster(dir, host, ownerMarker(dir));
  try {
    cluster.reaped = await reapOrphans();
    for (const sub of ["munge", "state", "spool", "log", "run"]) {
      await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
    }
    const socket = `${dir}/munge/munge.socket`;
    await startMunged(cluster, socket);
    const [slurmctldPort, slurmdPort] = freePorts();
    await Deno.writeTextFile(
      `${dir}/slurm.conf`,
      slurmConf({
        dir,
        host,
        cpus: options.cpus ?? 8,
        realMemoryMb: await realMemoryMb(),
        mungeSocket: socket,
        slurmctldPort,
        slurmdPort,
        killWait: options.killWaitSeconds ?? 5,
        credExpire,
      }),
    );
    for (const name of ["slurmctld", "slurmd"] as const) {
      cluster.adopt(spawnDaemon(name, ["-D"], {
        env: cluster.env,
        outputFile: `${dir}/log/${name}.out`,
        logFile: `${dir}/log/${name}.log`,
      }));
    }
    await waitIdle(cluster, options.startTimeoutMs ?? 30_000);
    cluster.startupMs = performance.now() - t0;
    return cluster;
  } catch (e) {
    const logs = await cluster.logs();
    // The start-up error is the one to report; a failure to stop is added to it.
    const stopped = await cluster.stop().then(() => "", (stopError) => `\n${stopError}`);
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`Cannot start the test Slurm cluster in ${dir}: ${why}${stopped}\n${logs}`);
  }
}

/**
 * Starts our munged as root (`--force`: it refuses root otherwise) with its key, socket, pid,
 * seed and log files under `dir/munge`, and waits until it answers on its socket.
 */
async function startMunged(cluster: SlurmCluster, socket: string): Promise<void> {
  const m = `${cluster.dir}/munge`;
  // munged insists the key is owned by its user (root here) and readable by no one else.
  await Deno.writeFile(`${m}/munge.key`, crypto.getRandomValues(new Uint8Array(1024)), {
    mode: 0o400,
  });
  await Deno.chmod(`${m}/munge.key`, 0o400);
  const daemon = spawnDaemon("munged", [
    "--foreground",
    "--force",
    `--socket=${socket}`,
    `--key-file=${m}/munge.key`,
    `--pid-file=${m}/munged.pid`,
    `--seed-file=${m}/munged.seed`,
    // In the foreground munged logs to stderr only (no --log-file).
  ], { env: cluster.env, outputFile: `${m}/munged.log`, logFile: `${m}/munged.log` });
  cluster.adopt(daemon);
  const ready = await waitFor(async () => {
    if (daemon.exited) throw new Error(`munged exited with ${daemon.exited.code}`);
    return (await run("munge", ["-n", `--socket=${socket}`], { timeoutMs: 5_000 })).code === 0;
  }, 10_000);
  if (!ready) throw new Error(`munged does not answer on ${socket} after 10 s`);
}

/** Waits until sinfo shows the node idle; fails early when a daemon exits. */
async function waitIdle(cluster: SlurmCluster, timeoutMs: number): Promise<void> {
  let state = "";
  const idle = await waitFor(async () => {
    const dead = cluster.daemons.find((d) => d.exited);
    if (dead) throw new Error(`${dead.name} exited with ${dead.exited?.code}`);
    const r = await run("sinfo", ["-h", "-N", "-o", "%T"], { env: cluster.env, timeoutMs: 10_000 });
    state = r.code === 0 ? r.stdout.trim() : r.stderr.trim();
    return r.code === 0 && state === "idle";
  }, timeoutMs);
  if (!idle) throw new Error(`node not idle after ${timeoutMs} ms (sinfo: ${state || "nothing"})`);
}

/**
 * Two ports free right now (bound to port 0 together, then released): fixed ports would
 * collide with a second cluster, or with the daemons of a test killed a moment ago.
 */
function freePorts(): [number, number] {
  const a = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const b = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const ports: [number, number] = [a.addr.port, b.addr.port];
  a.close();
  b.close();
  return ports;
}
