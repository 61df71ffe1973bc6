/**
 * Proof that tests/slurm/cluster.ts brings up a working Slurm: a script, not a Deno.test file
 * (`deno test` must not pick it up), run as root on Debian 12:
 *
 * ```sh
 * deno run -A tests/slurm/cluster_smoke.ts
 * ```
 *
 * It installs Slurm, starts a cluster in a temporary folder, and runs:
 *
 * 1. a 6-task array (`--array=0-5%6`) whose tasks all run at once on 2 real cores; one task is
 *    cancelled mid-run (plain scancel) and resubmitted alone (`--array=3`);
 * 2. signal probes: `scancel --signal=TERM --full`, `scancel --signal=TERM` alone, and a plain
 *    scancel of a task that ignores SIGTERM (SIGKILL after KillWait);
 * 3. `scontrol requeue` of a running array task (and of jobs with `--no-requeue` and with
 *    neither flag);
 *
 * then stops the daemons and checks that no Slurm or MUNGE process is left. Every task execs a
 * small Deno probe from its batch script, as the real test execs `smart-fetch export`; the probe
 * logs the signals it gets and exits 130 on SIGTERM.
 *
 * Prints timings; exits 0 with a "SKIPPED:" line where Slurm cannot run (not Linux, not root,
 * no apt-get), 1 on a failed check (the cluster folder is then kept for a look; set
 * SLURM_SMOKE_KEEP=1 to keep it after a success too).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  installSlurm,
  type JobcompRecord,
  slurmAvailability,
  type SlurmCluster,
  startCluster,
} from "./cluster.ts";
import { clusterProcesses, listProcesses } from "./cluster_processes.ts";
import { waitFor } from "./processes.ts";

const DAEMONS = ["munged", "slurmctld", "slurmd", "slurmstepd"];

const PROBE = `const file = Deno.args[0];
const log = (m) => Deno.writeTextFileSync(file, Date.now() + " " + m + "\\n", { append: true });
const ignoreTerm = Deno.env.get("PROBE_IGNORE_TERM") === "1";
log("start pid=" + Deno.pid + " restart=" + (Deno.env.get("SLURM_RESTART_COUNT") ?? "0"));
for (const s of ["SIGTERM", "SIGINT", "SIGHUP", "SIGCONT", "SIGUSR1", "SIGUSR2"]) {
  Deno.addSignalListener(s, () => {
    log("got " + s);
    if (s === "SIGTERM" && !ignoreTerm) { log("exit 130"); Deno.exit(130); }
  });
}
await new Promise((r) => setTimeout(r, Number(Deno.env.get("PROBE_SLEEP_MS") ?? "6000")));
log("done");
Deno.exit(0);
`;

// exec: the probe replaces the shell, so it is the batch step's main process (the real test
// does the same with smart-fetch).
const TASK = `#!/bin/bash
set -eu
exec "$DENO" run --allow-read --allow-write --allow-env probe.ts \\
  "out/\${SLURM_JOB_NAME}_\${SLURM_ARRAY_TASK_ID:-x}_\${SLURM_ARRAY_JOB_ID:-\$SLURM_JOB_ID}.log"
`;

const t0 = performance.now();
const available = await slurmAvailability();
if (!available.ok) {
  console.log(`SKIPPED: ${available.reason}`);
  Deno.exit(0);
}
const install = await installSlurm();
console.log(
  `install: ${install.installed ? "installed" : "already installed"} in ${ms(install.ms)}`,
);
const before = new Set(daemonProcesses().map((p) => p.pid));
const dir = await Deno.makeTempDir({ prefix: "smart-fetch-slurm-" });
let ok = false;
try {
  await using cluster = await startCluster({ dir });
  console.log(
    `start-up: ${ms(cluster.startupMs)} (${
      cluster.daemons.map((d) => `${d.name} ${d.pid}`).join(", ")
    })`,
  );
  if (cluster.reaped.length) {
    console.log(`reaped from an earlier run: ${cluster.reaped.join("; ")}`);
  }
  const work = `${dir}/work`;
  await Deno.mkdir(`${work}/out`, { recursive: true });
  await Deno.writeTextFile(`${work}/probe.ts`, PROBE);
  await Deno.writeTextFile(`${work}/task.sh`, TASK, { mode: 0o755 });
  const submit = (args: string[], env: Record<string, string> = {}) =>
    cluster.sbatch([`--output=out/%x_%A_%a.slurm`, ...args, "task.sh"], {
      cwd: work,
      env: { DENO: Deno.execPath(), DENO_NO_UPDATE_CHECK: "1", ...env },
    });
  try {
    await arrayPhase(cluster, work, submit);
    await Promise.all([signalPhase(cluster, work, submit), requeuePhase(cluster, work, submit)]);
  } catch (e) {
    console.log(`--- logs\n${await cluster.logs()}`);
    throw e;
  }
  await cluster.stop();
  const left = daemonProcesses().filter((p) => !before.has(p.pid));
  assert.deepEqual(
    left.map((p) => `${p.pid} ${p.cmdline}`),
    [],
    "Slurm/MUNGE processes left after stop()",
  );
  assert.deepEqual(clusterProcesses(dir).map((p) => p.cmdline), []);
  console.log("stop: no slurm or munge process left");
  ok = true;
} finally {
  if (ok && !Deno.env.get("SLURM_SMOKE_KEEP")) await Deno.remove(dir, { recursive: true });
  else console.log(`cluster folder kept: ${dir}`);
}
console.log(`smoke: all checks passed in ${ms(performance.now() - t0)}`);

type Submit = (args: string[], env?: Record<string, string>) => Promise<number>;

/** 6 tasks at once; task 3 cancelled mid-run and resubmitted alone; exit codes from jobcomp. */
async function arrayPhase(cluster: SlurmCluster, work: string, submit: Submit): Promise<void> {
  const t = performance.now();
  const job = await submit(["--job-name=array", "--array=0-5%6"]);
  let running = 0;
  await waitFor(async () => {
    running = (await cluster.squeue(job)).filter((x) => x.state === "RUNNING").length;
    return running === 6;
  }, 15_000);
  assert.equal(running, 6, "all 6 array tasks should run at once");
  // Cancel once the probe is up (its start line written), as the real test cancels an export.
  await waitFor(() => probeLog(work, "array", 3, job).includes("start"), 10_000);
  await cluster.scancel(`${job}_3`);
  const again = await submit(["--job-name=array", "--array=3"]);
  await cluster.waitGone(job, 60_000);
  await cluster.waitGone(again, 60_000);
  const records = await cluster.jobcomp();
  const first = byTask(records, job);
  assert.deepEqual([...first.keys()].sort(), [0, 1, 2, 3, 4, 5]);
  for (const [task, r] of first) {
    if (task === 3) assert.equal(r.state, "CANCELLED", `task 3: ${r.state}`);
    else assert.deepEqual([r.state, r.exitCode, r.signal], ["COMPLETED", 0, 0], `task ${task}`);
  }
  const redo = byTask(records, again).get(3);
  assert.deepEqual([redo?.state, redo?.exitCode], ["COMPLETED", 0], "resubmitted task 3");
  // Concurrency, from the probes' own clocks: every task started before any finished.
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < 6; i++) {
    const log = probeLog(work, "array", i, job);
    starts.push(stamp(log, "start"));
    if (i !== 3) ends.push(stamp(log, "done"));
  }
  assert.ok(Math.max(...starts) < Math.min(...ends), "tasks did not overlap");
  const cancelled = probeLog(work, "array", 3, job);
  const c3 = first.get(3);
  console.log(
    [
      `array: 6 tasks ran at once (starts within ${Math.max(...starts) - Math.min(...starts)} ms);`,
      `plain scancel ${job}_3 -> probe saw [${signalsIn(cancelled)}],`,
      `exited 130: ${
        cancelled.includes("exit 130")
      }, jobcomp ${c3?.state} ExitCode=${c3?.fields.ExitCode};`,
      `resubmitted --array=3 COMPLETED; ${ms(performance.now() - t)}`,
    ].join(" "),
  );
  assert.ok(cancelled.includes("got SIGTERM"), "plain scancel should SIGTERM the exec'd process");
}

/**
 * What reaches the exec'd probe, and what jobcomp says, for three ways of stopping a job. The
 * first is an array task, like the export the real test stops.
 */
async function signalPhase(cluster: SlurmCluster, work: string, submit: Submit): Promise<void> {
  const t = performance.now();
  const long = { PROBE_SLEEP_MS: "60000" };
  const full = await submit(["--job-name=termfull", "--array=0"], long);
  const only = await submit(["--job-name=termonly"], long);
  const ignore = await submit(["--job-name=ignore"], { ...long, PROBE_IGNORE_TERM: "1" });
  const logs = {
    full: () => probeLog(work, "termfull", 0, full),
    only: () => probeLog(work, "termonly", "x", only),
    ignore: () => probeLog(work, "ignore", "x", ignore),
  };
  for (const [name, log] of Object.entries(logs)) {
    assert.ok(await waitFor(() => log().includes("start"), 15_000), `${name} started`);
  }
  await cluster.scancel(`${full}_0`, { signal: "SIGTERM" });
  await cluster.scancel(only, { signal: "SIGTERM", full: false });
  const tKill = performance.now();
  await cluster.scancel(ignore);
  await cluster.waitGone(full, 20_000);
  await cluster.waitGone(ignore, 20_000);
  const killedAfter = performance.now() - tKill;
  assert.equal(signalsIn(logs.only()), "", "--signal without --full reached the probe");
  await cluster.scancel(only);
  await cluster.waitGone(only, 20_000);
  const records = await cluster.jobcomp();
  const fullRec = byTask(records, full).get(0);
  const ignoreRec = records.find((r) => r.jobId === ignore);
  assert.deepEqual([fullRec?.state, fullRec?.exitCode], ["FAILED", 130]);
  assert.equal(ignoreRec?.state, "CANCELLED");
  assert.ok(killedAfter >= 4_000, `SIGKILL came after ${killedAfter} ms, before KillWait`);
  assert.ok(!logs.ignore().includes("done"));
  console.log(
    [
      `signals: scancel --signal=TERM --full ${full}_0 -> probe saw [${signalsIn(logs.full())}],`,
      `jobcomp ${fullRec?.state} ExitCode=${fullRec?.fields.ExitCode};`,
      `--signal=TERM alone -> nothing;`,
      `plain scancel of a SIGTERM-ignoring probe -> [${signalsIn(logs.ignore())}],`,
      `gone ${ms(killedAfter)} later (KillWait 5 s),`,
      `jobcomp ${ignoreRec?.state} ExitCode=${ignoreRec?.fields.ExitCode}; ${
        ms(performance.now() - t)
      }`,
    ].join(" "),
  );
}

/**
 * `scontrol requeue` of a running array task submitted with --requeue: it runs again after
 * cred_expire. Also what requeue does to a job submitted with --no-requeue, and with neither.
 */
async function requeuePhase(cluster: SlurmCluster, work: string, submit: Submit): Promise<void> {
  const t = performance.now();
  const short = { PROBE_SLEEP_MS: "3000" };
  const job = await submit(["--job-name=requeue", "--array=0", "--requeue"], short);
  const never = await submit(["--job-name=norequeue", "--no-requeue"], short);
  const plain = await submit(["--job-name=plainrequeue"], short);
  const log = () => probeLog(work, "requeue", 0, job);
  for (const started of [log, () => probeLog(work, "norequeue", "x", never)]) {
    assert.ok(await waitFor(() => started().includes("start"), 15_000));
  }
  assert.ok(
    await waitFor(() => probeLog(work, "plainrequeue", "x", plain).includes("start"), 15_000),
  );
  const requeuedAt = Date.now();
  await cluster.scontrol(["requeue", `${job}_0`]);
  const refusal = async (id: number) => {
    try {
      await cluster.scontrol(["requeue", String(id)]);
      return "";
    } catch (e) {
      return /exited with \d+: (.*)/.exec(e instanceof Error ? e.message : String(e))?.[1] ??
        String(e);
    }
  };
  const neverRefused = await refusal(never);
  const plainRefused = await refusal(plain);
  for (const id of [job, never, plain]) await cluster.waitGone(id, 60_000);
  const text = log();
  const restarted = stamp(text, "start pid=\\d+ restart=1");
  assert.ok(text.includes("restart=0") && text.includes("got SIGTERM"), text);
  assert.ok(text.trimEnd().endsWith("done"), text);
  assert.notEqual(neverRefused, "", "a --no-requeue job was requeued");
  const records = (await cluster.jobcomp()).filter((r) => r.arrayJobId === job);
  console.log(
    [
      `requeue: scontrol requeue ${job}_0 (--requeue) -> probe saw [${signalsIn(text)}],`,
      `ran again ${ms(restarted - requeuedAt)} later with SLURM_RESTART_COUNT=1;`,
      `jobcomp [${records.map((r) => `${r.state} ${r.fields.ExitCode}`).join(", ")}];`,
      `--no-requeue job: refused (${neverRefused});`,
      `job with neither flag: ${plainRefused ? `refused (${plainRefused})` : "requeued"};`,
      ms(performance.now() - t),
    ].join(" "),
  );
}

/** The last record of each task of an array. */
function byTask(records: JobcompRecord[], arrayJobId: number): Map<number, JobcompRecord> {
  const out = new Map<number, JobcompRecord>();
  for (const r of records) {
    if (r.arrayJobId === arrayJobId && r.arrayTaskId !== undefined) out.set(r.arrayTaskId, r);
  }
  return out;
}

/** A probe's log, by job name, array index ("x" for no array) and (array) job id; "" if none. */
function probeLog(work: string, name: string, task: number | string, jobId: number): string {
  try {
    return Deno.readTextFileSync(`${work}/out/${name}_${task}_${jobId}.log`);
  } catch {
    return "";
  }
}

function stamp(log: string, event: string): number {
  const m = new RegExp(`^(\\d+) ${event}`, "m").exec(log);
  assert.ok(m, `no "${event}" in probe log:\n${log}`);
  return Number(m[1]);
}

function signalsIn(log: string): string {
  return [...log.matchAll(/got (SIG\w+)/g)].map((m) => m[1]).join(" ");
}

function daemonProcesses() {
  return listProcesses().filter((p) => DAEMONS.includes(p.name));
}

function ms(n: number): string {
  return n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(1)} s`;
}
