/**
 * Merging a folder's NDJSON files into one FHIR `collection` Bundle (SMART Fetch's `bundle`),
 * streamed: the Bundle's JSON text is written piece by piece, so memory does not grow with the
 * number of resources. The Bundle is committed (temporary name, fsync, rename) before any source
 * file is removed, so an interruption never loses both; the sources are noted first
 * (bundle_pending.ts), so a rerun after one finishes removing them.
 */

import { basename, join } from "node:path";
import { errorMessage, UsageError } from "../errors.ts";
import { exists, removeStaleTemps } from "./files.ts";
import { gunzipAll } from "./gunzip.ts";
import { lineSplitter } from "./ndjson_reader.ts";
import { AtomicFileWriter } from "./ndjson_writer.ts";
import { clearPending, finishPending, notePending } from "./bundle_pending.ts";

/** The Bundle's file name without `.gz`. */
export const BUNDLE_NAME = "Bundle.json";

/** The R4 Bundle profile SMART Fetch puts in `meta.profile`. */
const BUNDLE_PROFILE = "http://hl7.org/fhir/StructureDefinition/Bundle";

/** Text is handed to the writer in pieces of about this many characters. */
const PIECE_CHARS = 64 * 1024;

/** Where the Bundle of `dir` goes: `Bundle.json.gz`, or `Bundle.json` without compression. */
export function bundlePath(dir: string, gzip: boolean): string {
  return join(dir, gzip ? `${BUNDLE_NAME}.gz` : BUNDLE_NAME);
}

/**
 * True for a FHIR NDJSON file name a Bundle is made from: `.ndjson`, `.jsonl`, either with
 * `.gz`; not the export log (`log.ndjson`), and so not temporary `.part` files either.
 */
export function isBundleSourceName(name: string): boolean {
  return /\.(ndjson|jsonl)(\.gz)?$/.test(name) && !/^log\.(ndjson|jsonl)(\.gz)?$/.test(name);
}

/**
 * The NDJSON files at the top of `dir` (sorted names). Regular files only: subfolders
 * (`error/`, `deleted/`) are not looked into, and links (a managed folder's top level) are left
 * alone, since removing one would not remove its data.
 */
export async function bundleSources(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && isBundleSourceName(entry.name)) names.push(entry.name);
  }
  return names.sort();
}

/** Options for {@linkcode writeBundle}. */
export interface WriteBundleOptions {
  /** Gzip the Bundle file. */
  gzip: boolean;
  /** The Bundle's `timestamp` (a FHIR instant). */
  timestamp: string;
}

/**
 * Writes the resources of `sources` (paths; `.gz` ones are gunzipped) as one collection Bundle
 * at `path`, atomically. Each non-blank line must be a JSON object with a `resourceType`; a line
 * that is not is a UsageError naming the file and line, and nothing is written. Returns the
 * number of resources.
 */
export async function writeBundle(
  path: string,
  sources: readonly string[],
  options: WriteBundleOptions,
): Promise<number> {
  const file = await AtomicFileWriter.create(path, { gzip: options.gzip });
  const sink = file.writable.getWriter();
  const encoder = new TextEncoder();
  let pending: string[] = [];
  let pendingChars = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    pendingChars = 0;
    await sink.write(encoder.encode(text));
  };
  const put = async (text: string) => {
    pending.push(text);
    pendingChars += text.length;
    if (pendingChars >= PIECE_CHARS) await flush();
  };
  let count = 0;
  try {
    const head = JSON.stringify({
      resourceType: "Bundle",
      meta: { profile: [BUNDLE_PROFILE] },
      type: "collection",
      timestamp: options.timestamp,
    });
    await put(`${head.slice(0, -1)},"entry":[`);
    for (const source of sources) {
      for await (const json of resourceLines(source)) {
        // One entry per line keeps `zcat Bundle.json.gz | head` readable; JSON ignores it.
        await put(`${count ? "," : ""}\n{"resource":${json}}`);
        count++;
      }
    }
    await put(count ? "\n]}\n" : "]}\n");
    await flush();
    await sink.close();
    await file.commit();
    return count;
  } catch (err) {
    // Abort through our writer (it holds the stream's lock), then drop the temporary file.
    await sink.abort(err).catch(() => {});
    await file.abort();
    throw err;
  }
}

/** The non-blank lines of an NDJSON file, each checked to be a resource (a JSON object). */
async function* resourceLines(path: string): AsyncGenerator<string> {
  const input = await Deno.open(path, { read: true });
  let bytes: ReadableStream<Uint8Array> = input.readable;
  if (path.endsWith(".gz")) bytes = gunzipAll(bytes);
  const lines = bytes.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
  let number = 0;
  for await (const raw of readable(lines, path)) {
    number++;
    const line = raw.trim();
    if (!line) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UsageError(`${path}, line ${number}: not valid JSON, so no Bundle was written.`);
    }
    const isObject = value !== null && typeof value === "object" && !Array.isArray(value);
    if (!isObject || typeof (value as { resourceType?: unknown }).resourceType !== "string") {
      throw new UsageError(
        `${path}, line ${number}: not a FHIR resource (a JSON object with a resourceType), so no Bundle was written.`,
      );
    }
    yield line;
  }
}

/** `lines`, with a damaged gzip file reported as the bad input file it is. */
async function* readable(lines: ReadableStream<string>, path: string): AsyncGenerator<string> {
  try {
    yield* lines;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("Z_")) {
      throw new UsageError(
        `${path} is not a complete gzip file (${errorMessage(err)}), so no Bundle was written.`,
      );
    }
    throw err;
  }
}

/** What {@linkcode bundleFolder} did. */
export interface BundleResult {
  /** The Bundle file written. */
  path: string;
  /** Resources in it (not counted again when an interrupted run was finished). */
  resources: number | undefined;
  /** The source files, by name, removed once the Bundle was in place. */
  files: string[];
  /** True when this run only finished removing the sources of an interrupted one. */
  finished?: boolean;
}

/** Options for {@linkcode bundleFolder}. */
export interface BundleFolderOptions {
  /** Write `Bundle.json.gz` (else `Bundle.json`). */
  gzip: boolean;
  /** The Bundle's `timestamp`. */
  timestamp: string;
  /**
   * Write an empty Bundle for a folder without NDJSON files (an export that found nothing)
   * instead of refusing it. @default false
   */
  allowEmpty?: boolean;
}

/**
 * Turns the NDJSON files at the top of `dir` into its Bundle file, then removes them; the caller
 * holds the folder's lock. Refuses
 * (UsageError, nothing changed) a missing folder, an existing Bundle file and a folder without
 * NDJSON files, with SMART Fetch's messages.
 */
export async function bundleFolder(
  dir: string,
  options: BundleFolderOptions,
): Promise<BundleResult> {
  const info = await Deno.stat(dir).catch(() => undefined);
  if (!info?.isDirectory) {
    throw new UsageError(
      info ? `'${dir}' is a file, not a folder.` : `Folder '${dir}' does not exist.`,
    );
  }
  // A killed run's half-written Bundle (the caller holds the folder's lock: nothing else writes).
  await removeStaleTemps(dir);
  const path = bundlePath(dir, options.gzip);
  if (await exists(path)) {
    // A run killed after writing the Bundle, before removing every source: finish it.
    const removed = await finishPending(dir, basename(path));
    if (removed === undefined) throw new UsageError(`Bundle file '${path}' already exists.`);
    return { path, resources: undefined, files: removed, finished: true };
  }
  const files = await bundleSources(dir);
  if (files.length === 0 && !options.allowEmpty) {
    throw new UsageError(`No FHIR files found in '${dir}'.`);
  }
  // Noted first, so that a run killed once the Bundle is in place finishes on its rerun.
  await notePending(dir, basename(path), files);
  let resources: number;
  try {
    resources = await writeBundle(path, files.map((f) => join(dir, f)), {
      gzip: options.gzip,
      timestamp: options.timestamp,
    });
  } catch (err) {
    // No Bundle: nothing to finish.
    await clearPending(dir);
    throw err;
  }
  // Only now that the Bundle is safely on disk: an interruption before this leaves the sources.
  for (const name of files) await Deno.remove(join(dir, name));
  await clearPending(dir);
  return { path, resources, files };
}
