/**
 * Export file downloads on either origin: expiry (410), access-token rules, the 307 hop to the
 * second origin, gzip, and the violations a client commits by sending its token where it must
 * not (to the second origin, or to a file whose manifest said `requiresAccessToken: false`).
 *
 * @module
 */

import { gzipSync } from "node:zlib";
import type { ServerContext } from "./context.ts";
import type { ExportFile, ExportJob, ExportJobs } from "./export_jobs.ts";
import type { RawRequest, Reply } from "./http1.ts";
import { empty, FHIR_NDJSON, outcome } from "./reply.ts";
import { LINE_BYTES, syntheticStream } from "./synthetic.ts";

const encoder = new TextEncoder();

/** Whether an Accept-Encoding header allows gzip. */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    if (coding !== "gzip" && coding !== "x-gzip" && coding !== "*") return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** The bytes of a data-set file: one JSON object per line. */
function fileBytes(file: ExportFile): Uint8Array {
  if (!("lines" in file.content)) throw new Error("fileBytes is for data-set files only");
  return encoder.encode(file.content.lines.map((line) => JSON.stringify(line) + "\n").join(""));
}

/** Finds the file of a `/files/<job>/<name>` path. */
function locate(jobs: ExportJobs, path: string): { job: ExportJob; file: ExportFile } | undefined {
  const [, , jobId, name] = path.split("/");
  const job = jobs.get(jobId ?? "");
  if (!job || job.cancelled) return undefined;
  const file = [...job.outputs, ...job.errors, ...job.deleted].find((f) => f.name === name);
  return file ? { job, file } : undefined;
}

/** The job id of a file path, for the request log. */
export function fileJobId(path: string): string | undefined {
  return path.split("/")[2];
}

/** Answers a file download on the main ("main") or file ("second") listener. */
export function serveFile(
  ctx: ServerContext,
  jobs: ExportJobs,
  request: RawRequest,
  listener: "main" | "second",
  seq: number,
): Reply {
  const found = locate(jobs, request.path);
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
  const headers: Record<string, string> = { "content-type": FHIR_NDJSON };
  if (gzip) headers["content-encoding"] = "gzip";
  if ("synthetic" in file.content) {
    const stream = syntheticStream(file.type, file.content.synthetic, file.count);
    if (gzip) {
      return { status: 200, headers, body: stream.pipeThrough(new CompressionStream("gzip")) };
    }
    return { status: 200, headers, body: stream, length: file.count * LINE_BYTES };
  }
  const bytes = fileBytes(file);
  return { status: 200, headers, body: gzip ? gzipSync(bytes) : bytes };
}
