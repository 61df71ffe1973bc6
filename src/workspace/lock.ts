/**
 * One run per folder at a time. The lock is an OS file lock (flock) on `<dir>/.lock`: the kernel
 * drops it when its process dies, even by SIGKILL, so a killed run never leaves a stale lock
 * behind and the next run takes over at once. The file also names the holder for messages.
 */

import { hostname } from "node:os";
import { join } from "node:path";
import { LockedError } from "../errors.ts";
import { FILE_MODE } from "./files.ts";

/** Name of the lock file inside a folder. */
export const LOCK_FILE = ".lock";

/** Who holds a lock. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the holder started. */
  started: string;
  /** The command, without secrets: `export`, `bulk`, ... */
  command: string;
}

/** A held lock; call {@linkcode FolderLock.release} when done (process exit also releases it). */
export class FolderLock {
  private constructor(private readonly file: Deno.FsFile) {}

  /**
   * Takes the lock of `dir` (which must exist) or throws a LockedError naming the holder.
   */
  static async acquire(dir: string, command: string, nowMs: number): Promise<FolderLock> {
    const path = join(dir, LOCK_FILE);
    const file = await Deno.open(path, { read: true, write: true, create: true, mode: FILE_MODE });
    if (!(await file.tryLock(true))) {
      file.close();
      const holder = await readHolder(path);
      const who = holder
        ? ` (pid ${holder.pid} on ${holder.host}, running "${holder.command}" since ${holder.started})`
        : "";
      throw new LockedError(
        `Folder ${dir} is in use by another smart-fetch run${who}. Wait for it to finish or stop it, then run this command again.`,
      );
    }
    const holder: LockHolder = {
      pid: Deno.pid,
      host: hostname(),
      started: new Date(nowMs).toISOString(),
      command,
    };
    await file.truncate(0);
    await file.write(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
    return new FolderLock(file);
  }

  /** Releases the lock. */
  async release(): Promise<void> {
    try {
      await this.file.unlock();
    } finally {
      this.file.close();
    }
  }
}

/** Reads who holds (or last held) the lock of a folder. */
export async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const info = JSON.parse(await Deno.readTextFile(path));
    return typeof info?.pid === "number" ? info as LockHolder : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a live process holds the lock of `dir` right now, and who. Does not disturb the holder:
 * it tries a shared lock and lets go at once.
 */
export async function lockStatus(dir: string): Promise<{ held: boolean; holder?: LockHolder }> {
  const path = join(dir, LOCK_FILE);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return { held: false };
  }
  try {
    const free = await file.tryLock(false);
    if (free) {
      await file.unlock();
      return { held: false };
    }
  } finally {
    file.close();
  }
  const holder = await readHolder(path);
  return holder ? { held: true, holder } : { held: true };
}
