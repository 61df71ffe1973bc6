/**
 * The managed export folder: its top-level `.metadata` (kind "managed") and its numbered
 * subfolders `NNN.<nickname>`, one per export, ordered by number (numerically, so 1000 comes
 * after 999; SMART Fetch sorts them as text).
 */

import { join } from "node:path";
import { z } from "zod";
import type { Clock } from "../clock.ts";
import { ConfigError, UsageError } from "../errors.ts";
import { isoLocalMicros } from "../log/time_format.ts";
import { VERSION } from "../version.ts";
import { writeFileAtomic } from "./files.ts";
import {
  METADATA_FILE,
  type OutputMetadata,
  parseOutputMetadata,
  readMetadataJson,
} from "./metadata.ts";

const managedSchema = z.looseObject({
  kind: z.literal("managed"),
  "fhir-url": z.string(),
  group: z.string().nullable(),
  timestamp: z.string(),
  version: z.string(),
  /** Ours: what the server's CapabilityStatement said, so a finished export's rerun is offline. */
  capabilities: z.unknown().optional(),
});

/** The top-level `.metadata` of a managed folder. */
export type ManagedMetadata = z.infer<typeof managedSchema>;

/** What a folder's `.metadata` says it is. */
export type FolderKind =
  | { kind: "none" }
  | { kind: "managed"; metadata: ManagedMetadata }
  | { kind: "output"; metadata: OutputMetadata };

/** Reads a folder's `.metadata` and tells managed from output folders. */
export async function readFolderKind(dir: string): Promise<FolderKind> {
  const json = await readMetadataJson(dir);
  if (!json) return { kind: "none" };
  if (json["kind"] === "managed") {
    const parsed = managedSchema.safeParse(json);
    if (!parsed.success) {
      throw new ConfigError(`${join(dir, METADATA_FILE)} is not a valid managed .metadata file.`);
    }
    return { kind: "managed", metadata: parsed.data };
  }
  return { kind: "output", metadata: parseOutputMetadata(json, dir) };
}

/** Writes the managed `.metadata`. */
export async function writeManagedMetadata(
  dir: string,
  data: Omit<ManagedMetadata, "kind" | "timestamp" | "version">,
  clock: Clock,
): Promise<void> {
  const full = {
    "fhir-url": data["fhir-url"],
    group: data.group,
    kind: "managed",
    timestamp: isoLocalMicros(clock.now()),
    version: VERSION,
    ...(data.capabilities === undefined ? {} : { capabilities: data.capabilities }),
  };
  await writeFileAtomic(join(dir, METADATA_FILE), JSON.stringify(full, null, 2) + "\n");
}

/** One numbered subfolder and its metadata (undefined when it has none yet). */
export interface Subfolder {
  /** `002.2026-03` */
  name: string;
  number: number;
  nickname: string;
  metadata: OutputMetadata | undefined;
}

const SUBFOLDER = /^(\d+)\.(.+)$/;

/** The numbered subfolders, oldest first. */
export async function listSubfolders(dir: string): Promise<Subfolder[]> {
  const out: Subfolder[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const m = SUBFOLDER.exec(entry.name);
      if (!m || !entry.isDirectory) continue;
      const json = await readMetadataJson(join(dir, entry.name));
      const metadata = json && json["kind"] === "output"
        ? parseOutputMetadata(json, join(dir, entry.name))
        : undefined;
      out.push({ name: entry.name, number: Number(m[1]), nickname: m[2]!, metadata });
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort((a, b) => a.number - b.number || a.name.localeCompare(b.name));
}

/** The name of the next subfolder: highest number + 1, at least 3 digits. */
export function nextSubfolderName(subs: readonly Subfolder[], nickname: string): string {
  const next = Math.max(0, ...subs.map((s) => s.number)) + 1;
  return `${String(next).padStart(3, "0")}.${nickname}`;
}

/** Checks a `--nickname` is usable as (part of) a folder name. */
export function checkNickname(nickname: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(nickname)) {
    throw new UsageError(
      `--nickname "${nickname}" cannot be part of a folder name. Use letters, digits, '.', '_' and '-', such as 2026-03 or initial.`,
    );
  }
  return nickname;
}

/** What an export asks for, as recorded in a subfolder's `.metadata`. */
export interface RequestContext {
  filters: Record<string, string[]>;
  since: string | null;
  sinceMode: "updated" | "created" | undefined;
}

function sameFilters(a: Record<string, string[]>, b: Record<string, string[]>): boolean {
  const norm = (f: Record<string, string[]>) =>
    JSON.stringify(Object.keys(f).sort().map((k) => [k, [...f[k]!].sort()]));
  return norm(a) === norm(b);
}

/** True when a subfolder was made for exactly this request (types, filters, since, since mode). */
export function sameContext(
  metadata: OutputMetadata | undefined,
  request: RequestContext,
): boolean {
  if (!metadata) return false;
  return sameFilters(metadata.filters, request.filters) &&
    (metadata.since ?? null) === request.since &&
    (request.since === null || (metadata.sinceMode ?? undefined) === request.sinceMode);
}

/** The decision: reuse an existing subfolder or create a new one, with SMART Fetch's message. */
export interface SubfolderChoice {
  name: string;
  reuse: boolean;
  message: string;
}

/**
 * SMART Fetch's rules. With a nickname: reuse the subfolder with that nickname if it is the
 * newest or complete (rerunning a finished command is a no-op), refuse to resume it if it is
 * older and unfinished, else create one. Without: reuse the newest subfolder when it was
 * made for the same request (with `--since auto`, only while some type is still missing there),
 * else create one named after today's date. A completed export is reused too (its rerun is a
 * no-op), so a periodic full refresh needs a new nickname.
 */
export function chooseSubfolder(
  subs: readonly Subfolder[],
  request: RequestContext & {
    nickname: string | undefined;
    types: readonly string[];
    today: string;
  },
): SubfolderChoice {
  const newest = subs.at(-1);
  if (request.nickname !== undefined) {
    const same = subs.filter((s) => s.nickname === request.nickname);
    const match = same.at(-1);
    if (match && match === newest) {
      return {
        name: match.name,
        reuse: true,
        message: `Re-using existing subfolder '${match.name}' with the same nickname.`,
      };
    }
    if (match?.metadata?.complete) {
      // Job arrays rerun finished tasks: a complete export is a success, not an error.
      return {
        name: match.name,
        reuse: true,
        message: `Re-using existing subfolder '${match.name}' with the same nickname.`,
      };
    }
    if (match) {
      throw new UsageError(
        `Existing subfolder '${match.name}' with the same nickname is too old to resume. Choose a new nickname.`,
      );
    }
    const name = nextSubfolderName(subs, request.nickname);
    return { name, reuse: false, message: `Creating new subfolder '${name}'.` };
  }
  if (newest && sameContext(newest.metadata, request)) {
    const done = newest.metadata?.done ?? {};
    const missing = request.types.some((t) => !(t in done));
    if (request.since !== "auto" || missing) {
      return {
        name: newest.name,
        reuse: true,
        message: `Re-using existing subfolder '${newest.name}' with similar arguments.`,
      };
    }
  }
  const name = nextSubfolderName(subs, request.today);
  return { name, reuse: false, message: `Creating new subfolder '${name}'.` };
}
