/**
 * Where export files live: `/files/<job>/<name>?gen=G` on either origin, or, with
 * `filesAsBinary`, `[base]/Binary/<job>-<name without .ndjson>?gen=G` (HAPI / Smile CDR); and
 * back from a URL to the file it names.
 *
 * @module
 */

import type { ServerContext } from "./context.ts";

/** Which file a download URL names. */
export interface FileTarget {
  /** The export job id. */
  jobId: string;
  /** The file name, e.g. `Observation.002.ndjson`. */
  name: string;
}

const NDJSON = ".ndjson";
/** Job ids are UUIDs (crypto.randomUUID). */
const BINARY_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-(.+)$/;

/** The manifest URL of a file of a job, for the current file generation. */
export function fileUrl(
  ctx: ServerContext,
  file: { jobId: string; name: string; generation: number },
): string {
  if (ctx.config.filesAsBinary) {
    return `${ctx.baseUrl}/Binary/${binaryId(file)}?gen=${file.generation}`;
  }
  const origin = ctx.config.filesOnSecondOrigin ? ctx.secondOrigin : ctx.origin;
  return `${origin}/files/${file.jobId}/${file.name}?gen=${file.generation}`;
}

/** The Binary id of an export file with `filesAsBinary` (the inverse of binaryIdTarget). */
export function binaryId(target: FileTarget): string {
  const stem = target.name.endsWith(NDJSON) ? target.name.slice(0, -NDJSON.length) : target.name;
  return `${target.jobId}-${stem}`;
}

/** The file a `/files/<job>/<name>` path names (undefined without a job id). */
export function filesPathTarget(path: string): FileTarget | undefined {
  const [, , jobId, name] = path.split("/");
  return jobId ? { jobId, name: name ?? "" } : undefined;
}

/** The file an export Binary id names, or undefined for any other Binary id. */
export function binaryIdTarget(id: string): FileTarget | undefined {
  const match = BINARY_ID.exec(id);
  return match ? { jobId: match[1]!, name: match[2]! + NDJSON } : undefined;
}
