/**
 * The slurm.conf of a one-node test cluster whose state, sockets, logs and pid files all live in
 * one folder, so that runs never share anything but the installed binaries.
 *
 * @module
 */

/** What {@link slurmConf} needs to know. */
export interface SlurmConfInput {
  /** The cluster's folder (absolute). */
  dir: string;
  /** The short host name: slurmd finds its NodeName, slurmctld its SlurmctldHost, by it. */
  host: string;
  /** CPUs the node advertises (may exceed the real ones, see `SlurmdParameters`). */
  cpus: number;
  /** Memory the node advertises, in MB. */
  realMemoryMb: number;
  /** The MUNGE socket of our own munged. */
  mungeSocket: string;
  /** Ports of slurmctld and slurmd (free ones, so that clusters never collide). */
  slurmctldPort: number;
  slurmdPort: number;
  /** Seconds between the SIGTERM and the SIGKILL of a cancelled job. */
  killWait: number;
  /** Seconds a requeued job waits before it may start again (AuthInfo cred_expire). */
  credExpire: number;
}

/**
 * Renders slurm.conf. Comments name the reason for every setting that is not Slurm's default.
 */
export function slurmConf(c: SlurmConfInput): string {
  return `# Test cluster of smart-fetch (tests/slurm/cluster.ts): one node, everything under
# ${c.dir}
ClusterName=smartfetch
# An address in parentheses: no DNS lookup of the host name is needed.
SlurmctldHost=${c.host}(127.0.0.1)
SlurmctldPort=${c.slurmctldPort}
SlurmdPort=${c.slurmdPort}
# Everything runs as root (CI); no slurm user, no chown of state folders.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# Our munged's socket (auth/munge and cred/munge both read it). cred_expire also sets how long a
# requeued job waits before it may start again (default 120 s).
AuthInfo=socket=${c.mungeSocket},cred_expire=${c.credExpire}
StateSaveLocation=${c.dir}/state
SlurmdSpoolDir=${c.dir}/spool
SlurmctldPidFile=${c.dir}/run/slurmctld.pid
SlurmdPidFile=${c.dir}/run/slurmd.pid
SlurmctldLogFile=${c.dir}/log/slurmctld.log
SlurmdLogFile=${c.dir}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: track job processes by parentage, bind nothing. No cgroup.conf needed.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No database: sacct has nothing, finished jobs are read from the jobcomp log.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${c.dir}/jobcomp.log
MpiDefault=none
# The default (/bin/mail) is not installed; slurmctld logs an error without this.
MailProg=/bin/true
ReturnToService=2
# SIGTERM, then SIGKILL this many seconds later (default 30).
KillWait=${c.killWait}
SchedulerType=sched/backfill
# Submitted jobs wait for a scheduling pass (about 2 s by default, more after a requeue: the
# main loop runs every 60 s and backfill skips a pass when nothing changed). Every second here,
# so a job starts within about 1 s and a requeued job right when its begin time comes.
SchedulerParameters=sched_interval=1,bf_interval=1
# One CPU per task, memory not consumable: several 1-CPU array tasks share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Trust the CPUs and memory below rather than the hardware: the node may advertise more CPUs
# than it has (the tasks of our tests wait on I/O). "Only useful for testing", says slurm.conf(5).
SlurmdParameters=config_overrides
NodeName=${c.host} NodeAddr=127.0.0.1 CPUs=${c.cpus} RealMemory=${c.realMemoryMb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
`;
}

/**
 * A little less memory than the node has (MemTotal of /proc/meminfo, less 5% and at least
 * 256 MB), so that slurmd never reports less than slurm.conf claims.
 */
export async function realMemoryMb(): Promise<number> {
  const meminfo = await Deno.readTextFile("/proc/meminfo");
  const kb = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1]);
  if (!Number.isFinite(kb) || kb <= 0) throw new Error("Cannot read MemTotal from /proc/meminfo");
  const mb = Math.floor(kb / 1024);
  return Math.max(1, mb - Math.max(256, Math.ceil(mb * 0.05)));
}
