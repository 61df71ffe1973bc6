/** Starting a bulk export: the kick-off request, GET or POST, and its log row. */

import { ServerError, TransientError } from "../errors.ts";
import type { Capabilities } from "../fhir/capability.ts";
import { headersToObject, type HttpClient } from "../http/client.ts";
import { type ExportLog, loggableHeaders, newExportId } from "../log/export_log.ts";

/** Which patients an export covers. */
export type ExportLevel =
  | { kind: "system" }
  | { kind: "patient" }
  | { kind: "group"; id: string };

/** What to ask the server for. */
export interface KickoffParams {
  level: ExportLevel;
  /** Types, in any order (sent sorted). */
  types: readonly string[];
  /** Every `Type?params` filter, raw (commas not escaped). */
  typeFilters: readonly string[];
  /** `_since`, when set. */
  since?: string | undefined;
}

/** The kick-off endpoint for a level. */
export function kickoffEndpoint(baseUrl: string, level: ExportLevel): string {
  switch (level.kind) {
    case "system":
      return `${baseUrl}/$export`;
    case "patient":
      return `${baseUrl}/Patient/$export`;
    case "group":
      return `${baseUrl}/Group/${encodeURIComponent(level.id)}/$export`;
  }
}

/**
 * The query parameters: `_type` and `_typeFilter` each ONCE, comma-joined (Oracle/Cerner rejects
 * repeats); a comma inside one filter is escaped as `%2C` so the server does not split there.
 */
export function kickoffQuery(params: KickoffParams): Record<string, string> {
  const query: Record<string, string> = {};
  if (params.since) query["_since"] = params.since;
  query["_type"] = [...params.types].sort().join(",");
  if (params.typeFilters.length) {
    query["_typeFilter"] = [...params.typeFilters]
      .map((f) => f.replaceAll(",", "%2C"))
      .sort()
      .join(",");
  }
  return query;
}

/** The FHIR Parameters body for a POST kick-off (one parameter per filter, nothing escaped). */
export function kickoffBody(params: KickoffParams): string {
  const parameter: Record<string, string>[] = [];
  parameter.push({ name: "_outputFormat", valueString: "application/fhir+ndjson" });
  parameter.push({ name: "_type", valueString: [...params.types].sort().join(",") });
  if (params.since) parameter.push({ name: "_since", valueInstant: params.since });
  for (const filter of [...params.typeFilters].sort()) {
    parameter.push({ name: "_typeFilter", valueString: filter });
  }
  return JSON.stringify({ resourceType: "Parameters", parameter });
}

/** A started export. */
export interface Kickoff {
  exportId: string;
  statusUrl: string;
  /** The URL we kicked off (with the query for GET). */
  url: string;
}

/** Options for {@linkcode kickoff}. */
export interface KickoffOptions {
  http: HttpClient;
  log: ExportLog;
  capabilities: Capabilities;
  /** Preferred method; a GET answered 405 falls back to POST. */
  method: "GET" | "POST";
  /** Called with the started export before anything else happens, to save it at once. */
  onStarted: (started: Kickoff) => Promise<void>;
}

/**
 * Kicks off an export. Logs a `kickoff` row for every answer, errors included, and hands the
 * status URL to `onStarted` as soon as it is known.
 */
export async function kickoff(params: KickoffParams, options: KickoffOptions): Promise<Kickoff> {
  const { http, log, capabilities: caps } = options;
  const endpoint = kickoffEndpoint(http.baseUrl, params.level);
  const query = kickoffQuery(params);
  let method = options.method;
  for (;;) {
    const exportId = newExportId();
    const url = method === "GET" ? `${endpoint}?${new URLSearchParams(query)}` : endpoint;
    const detail = {
      exportUrl: url,
      softwareName: caps.softwareName,
      softwareVersion: caps.softwareVersion,
      softwareReleaseDate: caps.softwareReleaseDate,
      fhirVersion: caps.fhirVersion,
      requestParameters: query,
    };
    try {
      const res = await http.request(url, {
        method,
        headers: {
          Accept: "application/fhir+json",
          Prefer: "respond-async",
          ...(method === "POST" ? { "Content-Type": "application/fhir+json" } : {}),
        },
        ...(method === "POST" ? { body: kickoffBody(params) } : {}),
      }, (r) => {
        r.body?.cancel();
        return Promise.resolve({ status: r.status, headers: r.headers });
      });
      const location = res.headers.get("content-location");
      await log.write(exportId, "kickoff", {
        ...detail,
        errorCode: null,
        errorBody: null,
        responseHeaders: loggableHeaders(headersToObject(res.headers)),
      });
      if (res.status !== 202 || !location) {
        throw new ServerError(
          res.status !== 202
            ? `The server answered the export kick-off ${url} with HTTP ${res.status} instead of 202 Accepted.`
            : `The server accepted the export kick-off ${url} but gave no Content-Location (status URL).`,
          { url, status: res.status },
        );
      }
      const started = { exportId, statusUrl: new URL(location, url).href, url };
      await options.onStarted(started);
      return started;
    } catch (err) {
      if (err instanceof ServerError && err.status === 405 && method === "GET") {
        await log.write(exportId, "kickoff", {
          ...detail,
          errorCode: 405,
          errorBody: err.body ?? null,
          responseHeaders: loggableHeaders(err.headers),
        });
        method = "POST";
        continue;
      }
      if (err instanceof ServerError && err.status !== undefined && err.url === url) {
        await log.write(exportId, "kickoff", {
          ...detail,
          errorCode: err.status,
          errorBody: err.body ?? null,
          responseHeaders: loggableHeaders(err.headers),
        });
      } else if (err instanceof TransientError) {
        await log.write(exportId, "kickoff", {
          ...detail,
          errorCode: err.status ?? null,
          errorBody: err.message,
          responseHeaders: null,
        });
      }
      throw err;
    }
  }
}
