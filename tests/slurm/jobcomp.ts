/**
 * Reading the jobcomp/filetxt log: with no accounting database `sacct` has nothing to show, so
 * this file is where a finished job's state and exit code are found.
 *
 * Slurm 22.05 writes one line per finished job (and one per requeue), as `Key=value` pairs
 * separated by single spaces, e.g.
 *
 * ```text
 * JobId=5 UserId=root(0) GroupId=root(0) Name=job.sh JobState=COMPLETED Partition=debug
 * TimeLimit=UNLIMITED StartTime=2026-12-02T01:00:17 EndTime=2026-12-02T01:00:25 NodeList=vm
 * ... ArrayJobId=1 ArrayTaskId=3 DerivedExitCode=0:0 ExitCode=0:0
 * ```
 *
 * (one line in the file). Values are not quoted, so a value holding " Key=" cannot be told apart;
 * job names and paths in tests do not.
 *
 * @module
 */

/** One line of the jobcomp log. */
export interface JobcompRecord {
  /** The job's own id (each array task has its own; the last task's equals the array's). */
  jobId: number;
  /** For an array task, the id of the whole array (what sbatch printed). */
  arrayJobId?: number;
  /** For an array task, its index. */
  arrayTaskId?: number;
  /** The job name (`--job-name`, or the script's name). */
  name: string;
  /**
   * COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY ...; PENDING for the line a
   * requeue writes.
   */
  state: string;
  /** The batch script's exit status (ExitCode's first half); 0 when it died by a signal. */
  exitCode: number;
  /** The signal that ended the batch script (ExitCode's second half), 0 if none. */
  signal: number;
  /** Start and end, as written (local time, no zone). */
  startTime: string;
  endTime: string;
  /** Every pair on the line, as written. */
  fields: Record<string, string>;
}

/** Parses the whole log; blank lines are skipped, a line without JobId= throws. */
export function parseJobcomp(text: string): JobcompRecord[] {
  return text.split("\n").filter((l) => l.trim() !== "").map(parseJobcompLine);
}

/** Parses one line of the jobcomp log. */
export function parseJobcompLine(line: string): JobcompRecord {
  const fields: Record<string, string> = {};
  // Split before every " Key=", so that values may hold spaces (a Name with a blank, say).
  for (const pair of line.trim().split(/ (?=[A-Za-z][A-Za-z0-9_]*=)/)) {
    const eq = pair.indexOf("=");
    fields[pair.slice(0, eq)] = pair.slice(eq + 1).trim();
  }
  const jobId = Number(fields.JobId);
  if (!fields.JobId || !Number.isInteger(jobId)) {
    throw new Error(`Cannot parse jobcomp line (no JobId): ${JSON.stringify(line)}`);
  }
  const [exitCode, signal] = (fields.ExitCode ?? "0:0").split(":").map(Number);
  const record: JobcompRecord = {
    jobId,
    name: fields.Name ?? "",
    state: fields.JobState ?? "",
    exitCode: exitCode ?? 0,
    signal: signal ?? 0,
    startTime: fields.StartTime ?? "",
    endTime: fields.EndTime ?? "",
    fields,
  };
  const arrayJobId = optionalInt(fields.ArrayJobId);
  const arrayTaskId = optionalInt(fields.ArrayTaskId);
  if (arrayJobId !== undefined) record.arrayJobId = arrayJobId;
  if (arrayTaskId !== undefined) record.arrayTaskId = arrayTaskId;
  return record;
}

function optionalInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}
