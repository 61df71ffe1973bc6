/**
 * Inlining the attachments of one NDJSON file: the file is streamed row by row into a
 * temporary file (gzip kept), attachments are fetched many at a time while rows keep their
 * order, and the temporary file replaces the original only when complete. Any interruption
 * leaves the original as it was, every row intact. Each fetched attachment is also kept in a
 * small cache (`.hydrate/inline/`) as it arrives, so a rerun after a kill continues where it
 * stopped instead of fetching again.
 */

import { join } from "node:path";
import { ServerError, TransientError } from "../errors.ts";
import type { HttpClient } from "../http/client.ts";
import type { Reporter } from "../log/events.ts";
import { ensureDir, writeFileAtomic } from "../workspace/files.ts";
import { readLines } from "../workspace/ndjson_reader.ts";
import { AtomicFileWriter } from "../workspace/ndjson_writer.ts";
import type { Problem } from "../workspace/outcomes.ts";
import { AttachmentTooLarge, fetchAttachment, type InlinedFields } from "./attachment.ts";

/** What inlining a file did (counted in attachments). */
export interface InlineStats {
  /** Resources read. */
  examined: number;
  /** Attachments that already had their data. */
  present: number;
  inlined: number;
  failed: number;
  /** Failures worth a rerun (network, 5xx after retries). */
  transient: number;
  /** Over --max-attachment-size. */
  tooLarge: number;
}

/** Options for {@linkcode inlineFile}. */
export interface InlineOptions {
  http: HttpClient;
  /** The folder (its `.hydrate/` holds the cache). */
  dir: string;
  /** Mimetypes to inline, lower-case. */
  mimetypes: ReadonlySet<string>;
  maxBytes: number;
  concurrency: number;
  reporter: Reporter;
  problems: Problem[];
}

/** Rows waiting for their attachments, at most: order is kept, memory bounded. */
const WINDOW_ROWS = 256;

interface Attachment {
  url?: unknown;
  contentType?: unknown;
  data?: unknown;
  [key: string]: unknown;
}

/** The attachments of a resource that inlining looks at. */
function attachmentsOf(resource: Record<string, unknown>): Attachment[] {
  const out: Attachment[] = [];
  if (resource.resourceType === "DocumentReference" && Array.isArray(resource.content)) {
    for (const c of resource.content) {
      const a = c && typeof c === "object" ? (c as { attachment?: unknown }).attachment : undefined;
      if (a && typeof a === "object") out.push(a as Attachment);
    }
  }
  if (resource.resourceType === "DiagnosticReport" && Array.isArray(resource.presentedForm)) {
    for (const a of resource.presentedForm) if (a && typeof a === "object") out.push(a);
  }
  return out;
}

function mimeOf(a: Attachment): string | undefined {
  return typeof a.contentType === "string"
    ? a.contentType.split(";")[0]!.trim().toLowerCase()
    : undefined;
}

async function cacheKey(url: string, mime: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${mime} ${url}`));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Inlines the eligible attachments of `path` in place. */
export async function inlineFile(path: string, o: InlineOptions): Promise<InlineStats> {
  const stats: InlineStats = {
    examined: 0,
    present: 0,
    inlined: 0,
    failed: 0,
    transient: 0,
    tooLarge: 0,
  };
  const cacheDir = join(o.dir, ".hydrate", "inline");
  await ensureDir(cacheDir);
  const writer = await AtomicFileWriter.create(path, { gzip: path.endsWith(".gz") });
  const out = writer.out;
  const encoder = new TextEncoder();
  const window: Promise<string>[] = [];
  let changed = false;
  let inFlight = 0;
  const waiting: (() => void)[] = [];

  /** Fetches (or takes from the cache) one attachment; true when it was inlined. */
  const fill = async (
    resource: Record<string, unknown>,
    a: Attachment,
    mime: string,
  ): Promise<boolean> => {
    const url = String(a.url);
    const key = await cacheKey(url, mime);
    const cached = join(cacheDir, `${key}.json`);
    let fields: InlinedFields | undefined;
    try {
      fields = JSON.parse(await Deno.readTextFile(cached));
    } catch {
      fields = undefined;
    }
    if (!fields) {
      // Twice the connections: the client's connection cap holds the rest back, and a slot is
      // never idle while a finished fetch is being handled.
      while (inFlight >= o.concurrency * 2) await new Promise<void>((r) => waiting.push(r));
      inFlight++;
      try {
        fields = await fetchAttachment(o.http, url, mime, o.maxBytes);
      } catch (err) {
        if (
          !(err instanceof ServerError || err instanceof TransientError ||
            err instanceof AttachmentTooLarge)
        ) throw err;
        const what = err instanceof AttachmentTooLarge
          ? "tooLarge"
          : err instanceof TransientError
          ? "transient"
          : "failed";
        stats[what]++;
        o.problems.push({
          diagnostics:
            `smart-fetch: could not inline ${resource.resourceType}/${resource.id} attachment ${url}: ${err.message}`,
          code: what === "tooLarge" ? "too-long" : "processing",
        });
        o.reporter.emit({ type: "hydrate-target", task: "inline", ok: false });
        return false;
      } finally {
        inFlight--;
        waiting.shift()?.();
      }
      await writeFileAtomic(cached, JSON.stringify(fields), { durable: false });
    }
    // url and every other field stay; the fetched fields are added.
    a.contentType = fields.contentType;
    a.data = fields.data;
    a.size = fields.size;
    a.hash = fields.hash;
    stats.inlined++;
    changed = true;
    o.reporter.emit({ type: "hydrate-target", task: "inline", ok: true });
    return true;
  };

  const rowOf = async (line: string): Promise<string> => {
    let resource: Record<string, unknown>;
    try {
      resource = JSON.parse(line);
    } catch {
      return line; // Not ours to judge: kept exactly as it was.
    }
    if (!resource || typeof resource !== "object") return line;
    stats.examined++;
    const jobs: Promise<boolean>[] = [];
    for (const a of attachmentsOf(resource)) {
      const mime = mimeOf(a);
      if (!mime || !o.mimetypes.has(mime)) continue;
      if (a.data !== undefined) {
        stats.present++;
        continue;
      }
      if (typeof a.url !== "string" || !a.url) continue;
      jobs.push(fill(resource, a, mime));
    }
    if (jobs.length === 0) return line;
    // A row none of whose attachments could be inlined is kept byte for byte.
    return (await Promise.all(jobs)).some(Boolean) ? JSON.stringify(resource) : line;
  };

  try {
    for await (const line of readLines(path)) {
      const row = rowOf(line);
      row.catch(() => {}); // Awaited below, in order; not an unhandled rejection meanwhile.
      window.push(row);
      // Write out the head as soon as it is ready; never keep more than WINDOW_ROWS waiting.
      while (window.length > WINDOW_ROWS) {
        await out.write(encoder.encode((await window.shift()!) + "\n"));
      }
    }
    for (const row of window) await out.write(encoder.encode((await row) + "\n"));
    await out.close();
    if (changed) await writer.commit();
    else await writer.abort();
  } catch (err) {
    await Promise.allSettled(window);
    await writer.abort();
    throw err;
  }
  return stats;
}
