/**
 * Routing: which kind of request a path is, whether it needs credentials, and which handler
 * answers it.
 *
 * @module
 */

import { capabilityStatement, smartConfiguration } from "./capability.ts";
import type { ServerContext } from "./context.ts";
import { serveFile } from "./export_files.ts";
import type { ExportJobs } from "./export_jobs.ts";
import { binaryIdTarget, filesPathTarget, type FileTarget } from "./file_urls.ts";
import type { RawRequest, Reply } from "./http1.ts";
import { htmlNotFound, loginPage } from "./html_pages.ts";
import { json, outcome } from "./reply.ts";
import { read, readBinary, search } from "./search.ts";
import type { TokenEndpoint } from "./token_endpoint.ts";
import type { RequestKind, ShortenFault } from "./types.ts";

/** A routed request, ready to run. */
export interface Route {
  kind: RequestKind;
  /** Export job id, when the URL names one. */
  jobId?: string;
  /** Whether the normal FHIR credentials are checked before `run`. */
  auth: boolean;
  /** Produces the reply. */
  run: (hooks: RunHooks) => Reply | Promise<Reply>;
}

/** What the server hands a route when it runs it. */
export interface RunHooks {
  /** Records the id of a job a kick-off created. */
  setJobId: (id: string) => void;
  /** A `shorten` fault that fired for this request (only file downloads use it). */
  shorten: ShortenFault | undefined;
}

/** Handlers the router dispatches to. */
export interface Handlers {
  ctx: ServerContext;
  jobs: ExportJobs;
  token: TokenEndpoint;
}

const TYPE = /^[A-Z][A-Za-z]+$/;

function decodeSegments(path: string): string[] | undefined {
  try {
    return path.split("/").filter((s) => s !== "").map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function methodNotAllowed(method: string, allowed: string): Reply {
  return outcome(405, "not-supported", `Method ${method} is not allowed here`, { allow: allowed });
}

/** An export file download (kind "file", with the job id its URL names). */
function fileRoute(
  h: Handlers,
  request: RawRequest,
  download: { listener: "main" | "second"; seq: number; target: FileTarget | undefined },
): Route {
  return {
    kind: "file",
    ...(download.target ? { jobId: download.target.jobId } : {}),
    auth: false,
    run: ({ shorten }) => serveFile(h.jobs, request, { ...download, shorten }),
  };
}

/** Routes a request to the main listener. `seq` is its log number (for violation messages). */
export function routeMain(h: Handlers, request: RawRequest, seq: number): Route {
  const { ctx, jobs } = h;
  const { method, path } = request;
  const other = (reply: Reply): Route => ({ kind: "other", auth: false, run: () => reply });
  if (path === "/auth/token") {
    return {
      kind: "token",
      auth: false,
      run: () => h.token.handle(request),
    };
  }
  if (path.startsWith("/files/")) {
    return fileRoute(h, request, { listener: "main", seq, target: filesPathTarget(path) });
  }
  const base = ctx.config.basePath;
  if (!(path === base || path.startsWith(`${base}/`))) {
    if (ctx.config.htmlNotFound) return other(htmlNotFound());
    return other(outcome(404, "not-found", `Nothing at ${path}; the FHIR base is ${ctx.baseUrl}`));
  }
  const segments = decodeSegments(path.slice(base.length));
  if (!segments) return other(outcome(400, "invalid", `Malformed path ${path}`));
  const [first, second, third] = segments;
  const get = (kind: RequestKind, auth: boolean, run: () => Reply): Route => ({
    kind,
    auth,
    run: () => (method === "GET" || method === "HEAD" ? run() : methodNotAllowed(method, "GET")),
  });

  if (segments.length === 1 && first === "metadata") {
    return get(
      "metadata",
      false,
      () =>
        ctx.config.metadataHtml
          ? loginPage()
          : json(200, capabilityStatement(ctx.config, ctx, ctx.supportedTypes)),
    );
  }
  if (segments.length === 2 && first === ".well-known" && second === "smart-configuration") {
    return get(
      "smart-config",
      false,
      () =>
        ctx.config.smartConfiguration
          ? json(200, smartConfiguration(ctx.config, ctx), {}, "application/json")
          : outcome(404, "not-found", "This server has no SMART configuration"),
    );
  }
  const kickoff = (level: "system" | "patient" | "group", groupId?: string): Route => ({
    kind: "kickoff",
    auth: true,
    run: ({ setJobId }) => {
      const { reply, jobId } = jobs.kickoff(request, level, groupId);
      if (jobId) setJobId(jobId);
      return reply;
    },
  });
  if (segments.length === 1 && first === "$export") return kickoff("system");
  if (segments.length === 2 && first === "Patient" && second === "$export") {
    return kickoff("patient");
  }
  if (segments.length === 3 && first === "Group" && third === "$export") {
    return kickoff("group", second);
  }
  if (segments.length === 2 && first === "$export-status") {
    const jobId = second!;
    if (method === "DELETE") {
      return {
        kind: "delete",
        jobId,
        auth: true,
        run: () => jobs.cancel(jobId),
      };
    }
    return {
      kind: "status",
      jobId,
      auth: true,
      run: () =>
        method === "GET"
          ? jobs.status(jobId, request.query)
          : methodNotAllowed(method, "GET, DELETE"),
    };
  }
  if (segments.length === 2 && first === "Binary") {
    // filesAsBinary: export files live among the Binary resources, as on HAPI.
    const target = ctx.config.filesAsBinary ? binaryIdTarget(second!) : undefined;
    if (target) return fileRoute(h, request, { listener: "main", seq, target });
    return get("binary", true, () => readBinary(ctx, request, second!));
  }
  if (segments.length === 2 && TYPE.test(first!)) {
    return get("read", true, () => read(ctx, first!, second!));
  }
  if (segments.length === 1 && TYPE.test(first!)) {
    return get("search", true, () => search(ctx, request, first!));
  }
  return other(outcome(404, "not-found", `Nothing at ${path}`));
}

/** Routes a request to the second (file) listener. */
export function routeSecond(h: Handlers, request: RawRequest, seq: number): Route {
  if (request.path.startsWith("/files/")) {
    return fileRoute(h, request, {
      listener: "second",
      seq,
      target: filesPathTarget(request.path),
    });
  }
  // Attachments on another origin (a document store): Binary reads with no credentials. A
  // request that carries Authorization here is recorded as a violation by the server.
  const binary = /^\/binaries\/([A-Za-z0-9\-.]+)$/.exec(request.path);
  if (binary) {
    return { kind: "binary", auth: false, run: () => readBinary(h.ctx, request, binary[1]!) };
  }
  return {
    kind: "other",
    auth: false,
    run: () => outcome(404, "not-found", `Nothing at ${request.path}`),
  };
}
