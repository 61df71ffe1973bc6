/**
 * Starting munged, slurmctld and slurmd by hand (no systemd, no init scripts) as children of the
 * test process, and cleaning up what an earlier test that was killed left running.
 *
 * @module
 */

import { orphanedProcesses, OWNER_ENV } from "./cluster_processes.ts";
import { commandEnv, stopPids } from "./processes.ts";

/** A daemon we started: it runs in the foreground, so its PID is the child's. */
export interface Daemon {
  name: "munged" | "slurmctld" | "slurmd";
  pid: number;
  /** Where its stdout and stderr go (messages from before it opened its own log file). */
  outputFile: string;
  /** Its own log file. */
  logFile: string;
  /** Resolves when it exits. */
  status: Promise<Deno.CommandStatus>;
  /** Set once it has exited. */
  exited: Deno.CommandStatus | null;
}

/** Options of {@link spawnDaemon}. */
export interface SpawnOptions {
  /** Variables added to the daemon's environment. */
  env: Record<string, string>;
  /** File for stdout and stderr. */
  outputFile: string;
  /** The daemon's own log file (for {@link Daemon.logFile}). */
  logFile: string;
}

/**
 * Starts a daemon in the foreground, its output appended to a file.
 *
 * `setpriv --pdeathsig=TERM` makes the kernel send it SIGTERM when this process dies, even by
 * SIGKILL (a CI timeout), so a killed test leaves no daemon behind. The signal survives the
 * `exec` of the shell (which only redirects the output) and of the daemon, as none changes
 * credentials. Deno spawns children from its main thread, whose exit is the process's exit.
 * The child is unref'd: a test that forgets stop() ends, and the kernel stops the daemons.
 */
export function spawnDaemon(name: Daemon["name"], args: string[], options: SpawnOptions): Daemon {
  const binary = `/usr/sbin/${name}`;
  const child = new Deno.Command("/usr/bin/setpriv", {
    args: [
      "--pdeathsig=TERM",
      "--",
      "/bin/sh",
      "-c",
      'exec "$0" "$@" >>"$DAEMON_OUTPUT" 2>&1',
      binary,
      ...args,
    ],
    env: commandEnv({ ...options.env, DAEMON_OUTPUT: options.outputFile }),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  const daemon: Daemon = {
    name,
    pid: child.pid,
    outputFile: options.outputFile,
    logFile: options.logFile,
    status: child.status,
    exited: null,
  };
  child.status.then((s) => (daemon.exited = s));
  return daemon;
}

/**
 * Stops the processes of test clusters whose test process is gone: slurmstepd and job processes
 * that outlived a killed test (its daemons got SIGTERM from the kernel). Another test's live
 * cluster is left alone. Returns the PIDs and command lines of what it stopped.
 */
export async function reapOrphans(): Promise<string[]> {
  const orphans = orphanedProcesses();
  if (!orphans.length) return [];
  await stopPids(orphans.map((p) => p.pid), { graceMs: 2_000 });
  return orphans.map((p) => `${p.pid} ${p.cmdline}`);
}

/** The environment marker of a cluster (see {@link OWNER_ENV}). */
export function ownerEnv(marker: string): Record<string, string> {
  return { [OWNER_ENV]: marker };
}

/** The last `lines` lines of a file, or a note that it cannot be read. */
export async function tail(path: string, lines: number): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch (e) {
    return `(cannot read ${path}: ${e instanceof Error ? e.message : String(e)})`;
  }
}
