/**
 * Export file downloads on either origin: expiry (410), access-token rules, the 307 hop to the
 * second origin, gzip, the `shorten` fault, HAPI's Binary wrapping, and the violations a client
 * commits by sending its token where it must not (to the second origin, or to a file whose
 * manifest said `requiresAccessToken: false`).
 *
 * @module
 */

import { acceptsGzip } from "./accept.ts";
import { type Body, type Bytes, gzipBody, prefixBytes, prefixStream } from "./byte_streams.ts";
import { wrapInBinary } from "./export_binary.ts";
import type { ExportFile, ExportJobs } from "./export_jobs.ts";
import { binaryId, type FileTarget } from "./file_urls.ts";
import type { RawRequest, Reply } from "./http1.ts";
import { empty, FHIR_NDJSON, outcome } from "./reply.ts";
import { LINE_BYTES, syntheticStream } from "./synthetic.ts";
import type { ShortenFault } from "./types.ts";

const encoder = new TextEncoder();

/** One download, as routed. */
export interface Download {
  /** Which listener got it. */
  listener: "main" | "second";
  /** Its request log number (for violation messages). */
  seq: number;
  /** The file its URL names (undefined when the URL names none). */
  target: FileTarget | undefined;
  /** A `shorten` fault to apply to the content. */
  shorten: ShortenFault | undefined;
}

/** The bytes of a data-set file: one JSON object per line. */
function fileBytes(file: ExportFile): Bytes {
  if (!("lines" in file.content)) throw new Error("fileBytes is for data-set files only");
  return encoder.encode(file.content.lines.map((line) => JSON.stringify(line) + "\n").join(""));
}

/** The NDJSON of a file, shortened by a `shorten` fault; `length` when known for a stream. */
function ndjsonOf(file: ExportFile, shorten: ShortenFault | undefined): {
  body: Body;
  length?: number;
} {
  const atLineEnd = shorten?.atLineEnd ?? false;
  if ("lines" in file.content) {
    const bytes = fileBytes(file);
    return { body: shorten ? prefixBytes(bytes, shorten.afterBytes, atLineEnd) : bytes };
  }
  const stream = syntheticStream(file.type, file.content.synthetic, file.count);
  if (!shorten) return { body: stream, length: file.count * LINE_BYTES };
  return { body: stream.pipeThrough(prefixStream(shorten.afterBytes, atLineEnd)) };
}

/** Answers a file download (a `/files/` URL, or an export Binary with `filesAsBinary`). */
export function serveFile(jobs: ExportJobs, request: RawRequest, download: Download): Reply {
  const { ctx } = jobs;
  const { listener, seq } = download;
  const found = download.target && jobs.find(download.target);
  if (!found) return outcome(404, "not-found", `No export file at ${request.path}`);
  const { job, file } = found;
  // (A token sent to the second origin is recorded for every path, by the server.)
  if (listener === "main" && !job.requiresAccessToken && "authorization" in request.headers) {
    ctx.violations.push(
      `request #${seq} (${request.method} ${request.path}) carried an Authorization header, ` +
        `but the manifest of export ${job.id} said requiresAccessToken: false`,
    );
  }
  const generation = Number(new URLSearchParams(request.query).get("gen") ?? "0");
  if (generation !== job.generation) {
    return generation < job.generation
      ? outcome(ctx.config.fileExpiredCode, "expired", `The file URL ${request.path} has expired`)
      : outcome(404, "not-found", `No export file at ${request.path}`);
  }
  if (listener === "main" && job.requiresAccessToken) {
    const denied = ctx.auth.check(request.headers);
    if (denied) return denied;
  }
  if (listener === "main" && ctx.config.redirectFilesToSecondOrigin) {
    const query = request.query === "" ? "" : `?${request.query}`;
    return empty(307, { location: `${ctx.secondOrigin}${request.path}${query}` });
  }
  const gzip = ctx.config.gzipFiles && acceptsGzip(request.headers["accept-encoding"]);
  let { body, length } = ndjsonOf(file, download.shorten);
  let contentType = FHIR_NDJSON;
  if (ctx.config.filesAsBinary) {
    ({ body, contentType } = wrapInBinary(ctx.config, {
      id: binaryId({ jobId: job.id, name: file.name }),
      ndjson: body,
      accept: request.headers["accept"],
    }));
    length = undefined;
  }
  const headers: Record<string, string> = { "content-type": contentType };
  if (gzip) {
    headers["content-encoding"] = "gzip";
    body = gzipBody(body);
    length = undefined;
  }
  return { status: 200, headers, body, ...(length === undefined ? {} : { length }) };
}
