/**
 * One run per folder at a time. The lock is an OS file lock (flock) on `<dir>/.lock`: the kernel
 * drops it when its process dies, even by SIGKILL, so a killed run never blocks the next one,
 * which takes over at once. The file also names the holder for messages. A run that ends removes
 * the file (while still holding the lock), so a finished run leaves no `.lock` naming a dead pid;
 * a run that opened the old file meanwhile sees that the path no longer names it and starts over.
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

/** Lock files this process holds, removed by {@linkcode removeHeldLocksSync} on a signal. */
const held = new Set<string>();

/** A held lock; call {@linkcode FolderLock.release} when done (process exit also releases it). */
export class FolderLock {
  #released = false;
  private constructor(private readonly file: Deno.FsFile, readonly path: string) {}

  /**
   * Takes the lock of `dir` (which must exist) or throws a LockedError naming the holder.
   */
  static async acquire(dir: string, command: string, nowMs: number): Promise<FolderLock> {
    const path = join(dir, LOCK_FILE);
    for (let attempt = 0;; attempt++) {
      const file = await Deno.open(path, {
        read: true,
        write: true,
        create: true,
        mode: FILE_MODE,
      });
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
      // The holder we waited on may have removed the file as it finished: then our lock is on a
      // file nobody else will ever open. Start over on whatever the path names now.
      if (!(await sameFile(file, path))) {
        file.close();
        if (attempt < 10) continue;
        throw new LockedError(`Folder ${dir} keeps changing its lock file; try again.`);
      }
      const holder: LockHolder = {
        pid: Deno.pid,
        host: hostname(),
        started: new Date(nowMs).toISOString(),
        command,
      };
      await file.truncate(0);
      await file.write(new TextEncoder().encode(JSON.stringify(holder) + "\n"));
      held.add(path);
      return new FolderLock(file, path);
    }
  }

  /** Removes the lock file and releases the lock (in that order: see the module comment). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    held.delete(this.path);
    try {
      await Deno.remove(this.path).catch(() => {});
      await this.file.unlock();
    } finally {
      this.file.close();
    }
  }
}

async function sameFile(file: Deno.FsFile, path: string): Promise<boolean> {
  try {
    const [a, b] = [await file.stat(), await Deno.stat(path)];
    return a.ino === b.ino && a.dev === b.dev;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Removes the lock files this process holds, for a signal handler that exits at once (the OS
 * releases the locks themselves with the process).
 */
export function removeHeldLocksSync(): void {
  for (const path of held) {
    try {
      Deno.removeSync(path);
    } catch {
      // Already gone.
    }
  }
  held.clear();
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
