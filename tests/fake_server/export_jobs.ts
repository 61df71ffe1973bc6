/**
 * Export jobs: kick-off (202 + Content-Location, or 429 when too many are running), status
 * polling (202 with X-Progress until ready, then the manifest, optionally paged), DELETE, and
 * expiry of status and file URLs.
 *
 * @module
 */

import type { ServerContext } from "./context.ts";
import { type ExportRequest, KickoffError, parseKickoff } from "./export_request.ts";
import { takeSnapshot } from "./export_snapshot.ts";
import type { RawRequest, Reply } from "./http1.ts";
import { type FileTarget, fileUrl } from "./file_urls.ts";
import { empty, json, operationOutcome, outcome } from "./reply.ts";
import { syntheticLineCount } from "./synthetic.ts";

/** One file of an export. */
export interface ExportFile {
  /** File name in its URL, e.g. `Observation.002.ndjson`. */
  name: string;
  /** Manifest `type`. */
  type: string;
  /** Number of lines. */
  count: number;
  /** The lines (JSON objects), or the index of a synthetic file. */
  content: { lines: unknown[] } | { synthetic: number };
}

/** One export job, fixed at kick-off. */
export interface ExportJob {
  id: string;
  /** The kick-off URL (manifest `request`). */
  request: string;
  transactionTime: string;
  requiresAccessToken: boolean;
  outputs: ExportFile[];
  errors: ExportFile[];
  deleted: ExportFile[];
  /** Status polls answered so far. */
  polls: number;
  /** The manifest has been served. */
  completed: boolean;
  /** DELETEd by the client. */
  cancelled: boolean;
  /** Expired by expireExports(). */
  expired: boolean;
  /** File URL generation; expireFiles() bumps it, so older URLs answer 410. */
  generation: number;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function files(type: string, prefix: string, lines: unknown[], size: number): ExportFile[] {
  return chunk(lines, size).map((part, i) => ({
    name: `${prefix}${type}.${String(i + 1).padStart(3, "0")}.ndjson`,
    type,
    count: part.length,
    content: { lines: part },
  }));
}

/** The registry of export jobs of one server. */
export class ExportJobs {
  readonly #jobs = new Map<string, ExportJob>();
  /** The server the jobs belong to. */
  constructor(readonly ctx: ServerContext) {}

  /** A job by id. */
  get(id: string): ExportJob | undefined {
    return this.#jobs.get(id);
  }

  /** The file a download URL names, unless its job is unknown or DELETEd. */
  find(target: FileTarget): { job: ExportJob; file: ExportFile } | undefined {
    const job = this.#jobs.get(target.jobId);
    if (!job || job.cancelled) return undefined;
    const file = [...job.outputs, ...job.errors, ...job.deleted].find((f) =>
      f.name === target.name
    );
    return file ? { job, file } : undefined;
  }

  /** The status URL of a job. */
  statusUrl(job: ExportJob): string {
    return `${this.ctx.baseUrl}/$export-status/${job.id}`;
  }

  /** The URL a manifest lists for a file (see file_urls.ts), for the current generation. */
  fileUrl(job: ExportJob, file: ExportFile): string {
    return fileUrl(this.ctx, { jobId: job.id, name: file.name, generation: job.generation });
  }

  /** Handles a kick-off; returns the reply and the new job id (when one was created). */
  kickoff(
    request: RawRequest,
    level: ExportRequest["level"],
    groupId?: string,
  ): { reply: Reply; jobId?: string } {
    const { config, store, supportedTypes } = this.ctx;
    if (!config.kickoffMethods.includes(request.method as "GET" | "POST")) {
      return {
        reply: outcome(405, "not-supported", `$export does not accept ${request.method}`, {
          allow: config.kickoffMethods.join(", "),
        }),
      };
    }
    if (level === "group" && store.groupMembers(groupId ?? "") === undefined) {
      return { reply: outcome(404, "not-found", `Group/${groupId} is not known`) };
    }
    let parsed: ExportRequest;
    try {
      parsed = parseKickoff(request, config, level, supportedTypes, groupId);
    } catch (err) {
      if (err instanceof KickoffError) return { reply: outcome(err.status, err.code, err.message) };
      throw err;
    }
    const running = [...this.#jobs.values()].filter((j) =>
      !j.completed && !j.cancelled && !j.expired
    );
    if (running.length >= config.maxConcurrentExports) {
      return {
        reply: outcome(429, "throttled", "Another export is in progress; try again later", {
          "retry-after": "2",
        }),
      };
    }
    const job = this.#create(request, parsed);
    this.#jobs.set(job.id, job);
    return {
      reply: empty(202, { "content-location": this.statusUrl(job) }),
      jobId: job.id,
    };
  }

  #create(request: RawRequest, parsed: ExportRequest): ExportJob {
    const { config, store, supportedTypes } = this.ctx;
    const size = config.resourcesPerFile;
    let outputs: ExportFile[];
    let deleted: ExportFile[] = [];
    const synthetic = config.synthetic;
    if (synthetic) {
      const count = syntheticLineCount(synthetic.bytesPerFile);
      outputs = Array.from({ length: synthetic.files }, (_, i) => ({
        name: `${synthetic.type}.${String(i + 1).padStart(3, "0")}.ndjson`,
        type: synthetic.type,
        count,
        content: { synthetic: i + 1 },
      }));
    } else {
      const snapshot = takeSnapshot(store, parsed, supportedTypes);
      outputs = snapshot.outputs.flatMap((o) => files(o.type, "", o.resources, size));
      deleted = files("Bundle", "deleted.", snapshot.deleted, size);
    }
    const errorLines = config.manifestErrors.map((e) => ({
      resourceType: "OperationOutcome",
      id: crypto.randomUUID(),
      issue: [{ severity: e.severity, code: e.code ?? "processing", diagnostics: e.diagnostics }],
    }));
    const query = request.query === "" ? "" : `?${request.query}`;
    return {
      id: crypto.randomUUID(),
      request: `${this.ctx.origin}${request.path}${query}`,
      transactionTime: new Date(config.now()).toISOString().replace("Z", "+00:00"),
      requiresAccessToken: config.requiresAccessToken,
      outputs,
      errors: errorLines.length > 0
        ? [{
          name: "error.OperationOutcome.001.ndjson",
          type: "OperationOutcome",
          count: errorLines.length,
          content: { lines: errorLines },
        }]
        : [],
      deleted,
      polls: 0,
      completed: false,
      cancelled: false,
      expired: false,
      generation: 0,
    };
  }

  /** Answers a status poll (`page` selects a manifest page, from 1). */
  status(jobId: string, query: string): Reply {
    const { config } = this.ctx;
    const job = this.#jobs.get(jobId);
    if (!job || job.cancelled) return outcome(404, "not-found", `No export job "${jobId}"`);
    if (job.expired) {
      return outcome(config.statusExpiredCode, "not-found", `Export job "${jobId}" has expired`);
    }
    if (!job.completed) {
      job.polls++;
      if (job.polls <= config.pollsUntilReady) {
        const percent = Math.round((100 * job.polls) / (config.pollsUntilReady + 1));
        const headers: Record<string, string> = {
          "x-progress": `Build in progress - ${percent}% complete`,
        };
        if (config.progressRetryAfter !== null) headers["retry-after"] = config.progressRetryAfter;
        return empty(202, headers);
      }
      job.completed = true;
    }
    const pageText = new URLSearchParams(query).get("page") ?? "1";
    const page = Number(pageText);
    const pageSize = config.manifestPageSize ?? Math.max(1, job.outputs.length);
    const pages = Math.max(1, Math.ceil(job.outputs.length / pageSize));
    if (!Number.isInteger(page) || page < 1 || page > pages) {
      return outcome(404, "not-found", `Export job "${jobId}" has no manifest page "${pageText}"`);
    }
    const output = job.outputs.slice((page - 1) * pageSize, page * pageSize);
    const manifest: Record<string, unknown> = {
      transactionTime: job.transactionTime,
      request: job.request,
      requiresAccessToken: job.requiresAccessToken,
      output: output.map((f) => ({
        // manifestTypeOverrides: a mislabeled manifest (the content keeps its real type).
        type: Object.hasOwn(config.manifestTypeOverrides, f.type)
          ? config.manifestTypeOverrides[f.type]
          : f.type,
        url: this.fileUrl(job, f),
        count: f.count,
      })),
      error: page === 1 ? job.errors.map((f) => ({ type: f.type, url: this.fileUrl(job, f) })) : [],
    };
    if (page === 1 && job.deleted.length > 0) {
      manifest.deleted = job.deleted.map((f) => ({ type: f.type, url: this.fileUrl(job, f) }));
    }
    if (page < pages) {
      manifest.link = [{ relation: "next", url: `${this.statusUrl(job)}?page=${page + 1}` }];
    }
    return json(200, manifest, {}, "application/json");
  }

  /** Answers DELETE of a status URL. */
  cancel(jobId: string): Reply {
    const job = this.#jobs.get(jobId);
    if (!job || job.cancelled) return outcome(404, "not-found", `No export job "${jobId}"`);
    if (job.expired) {
      return outcome(
        this.ctx.config.statusExpiredCode,
        "not-found",
        `Export job "${jobId}" has expired`,
      );
    }
    job.cancelled = true;
    return json(
      202,
      operationOutcome("information", "informational", `Export job "${jobId}" deleted`),
    );
  }

  /** Every existing status URL now answers 404 (or expiredStatusCode). */
  expireExports(): void {
    for (const job of this.#jobs.values()) job.expired = true;
  }

  /** Every file URL issued so far now answers 410; the next manifest lists fresh URLs. */
  expireFiles(): void {
    for (const job of this.#jobs.values()) job.generation++;
  }
}
