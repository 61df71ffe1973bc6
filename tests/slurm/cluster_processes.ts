/**
 * Finding the processes of a test cluster in /proc: to stop them all (slurmstepd and job
 * processes are not our children: slurmd double-forks them), and to clean up after a test that
 * was killed before it could.
 *
 * Two marks tie a process to a cluster folder:
 * - {@link OWNER_ENV} in its environment: the daemons get it from us, job processes from sbatch
 *   (which exports the submitter's environment to the job);
 * - an open file under the folder: slurmstepd's environment cannot be read (its process title,
 *   "slurmstepd: [12.batch]", is written over it), but it keeps `<dir>/log/slurmd.log` open.
 *
 * @module
 */

import { readProc, startTime } from "./processes.ts";

/** Environment variable naming a cluster and the test process that owns it. */
export const OWNER_ENV = "SMART_FETCH_SLURM_OWNER";

/** The marker of a cluster in `dir` owned by this process: `<dir>|<pid>:<starttime>`. */
export function ownerMarker(dir: string): string {
  return `${dir}|${Deno.pid}:${startTime(Deno.pid)}`;
}

/** A process found in /proc. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The kernel's name of the command (`slurmstepd`, `munged` ...). */
  name: string;
  /** The command line, arguments joined by spaces. */
  cmdline: string;
  /** The value of {@link OWNER_ENV} in its environment, if any. */
  owner: string | undefined;
  /** Absolute paths of its open files (" (deleted)" stripped). */
  files: string[];
}

/** Every live process but this one, read from /proc (processes that vanish meanwhile are skipped). */
export function listProcesses(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    const pid = Number(entry.name);
    const stat = readProc(pid, "stat");
    if (stat === null) continue;
    // The name (field 2) may hold spaces and parentheses: the other fields follow the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") continue;
    const owner = (readProc(pid, "environ") ?? "").split("\0").find((v) =>
      v.startsWith(`${OWNER_ENV}=`)
    );
    out.push({
      pid,
      ppid: Number(fields[1]),
      name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
      cmdline: (readProc(pid, "cmdline") ?? "").split("\0").join(" ").trim(),
      owner: owner?.slice(OWNER_ENV.length + 1),
      files: openFiles(pid),
    });
  }
  return out;
}

/** Every process of the cluster in `dir` (see the module doc), with all their descendants. */
export function clusterProcesses(dir: string, all: ProcessInfo[] = listProcesses()): ProcessInfo[] {
  return withDescendants(
    all,
    (p) => markedDir(p) === dir || p.files.some((f) => f.startsWith(`${dir}/`)),
  );
}

/**
 * Processes of clusters whose test process is gone (killed before it could stop them): marked
 * ones whose owner no longer runs, slurmstepd whose folder no live test owns, and descendants.
 * Another test's live cluster is left alone.
 */
export function orphanedProcesses(): ProcessInfo[] {
  const all = listProcesses();
  const liveDirs = new Set(all.filter((p) => p.owner && !ownerIsGone(p.owner)).map(markedDir));
  return withDescendants(all, (p) => {
    if (p.owner) return ownerIsGone(p.owner);
    if (p.name !== "slurmstepd") return false;
    const log = p.files.map((f) => /^(.+)\/log\/slurmd\.log$/.exec(f)?.[1]).find((d) => d);
    return log !== undefined && !liveDirs.has(log);
  });
}

/** True when the test process named in a marker (`<dir>|<pid>:<starttime>`) no longer runs. */
export function ownerIsGone(marker: string): boolean {
  const m = /\|(\d+):(\d+)$/.exec(marker);
  return !m || startTime(Number(m[1])) !== m[2];
}

function markedDir(p: ProcessInfo): string | undefined {
  return p.owner?.slice(0, p.owner.lastIndexOf("|"));
}

function withDescendants(all: ProcessInfo[], pick: (p: ProcessInfo) => boolean): ProcessInfo[] {
  const picked = new Set(all.filter(pick).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) {
      if (!picked.has(p.pid) && picked.has(p.ppid)) {
        picked.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => picked.has(p.pid));
}

function openFiles(pid: number): string[] {
  const links: string[] = [];
  try {
    for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) links.push(`fd/${fd.name}`);
  } catch {
    // gone, or a kernel thread
  }
  const out: string[] = [];
  for (const link of links) {
    try {
      const target = Deno.readLinkSync(`/proc/${pid}/${link}`).replace(/ \(deleted\)$/, "");
      if (target.startsWith("/")) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}
