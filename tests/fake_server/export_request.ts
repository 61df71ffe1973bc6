/**
 * Parsing a bulk `$export` kick-off (GET query or POST `Parameters`) into an ExportRequest,
 * with the checks real servers make: `Prefer: respond-async`, known types, parseable `_since`,
 * `_typeFilter` queries with known parameters, and (Oracle/Cerner) no repeated `_type`.
 *
 * @module
 */

import type { Config } from "./config.ts";
import type { RawRequest } from "./http1.ts";
import { compileQuery, decodeQuery, type Predicate } from "./search_params.ts";
import { SearchError } from "./search_error.ts";
import { dateRange } from "./search_dates.ts";

/** A kick-off, validated. */
export interface ExportRequest {
  level: "system" | "patient" | "group";
  /** For group level. */
  groupId?: string;
  /** Requested types, or undefined for every type of the level. */
  types: string[] | undefined;
  /** `_since` in ms. */
  since: number | undefined;
  /** `_typeFilter` predicates per type; several for one type are OR-ed. */
  filters: Map<string, Predicate[]>;
  /** POST `patient` references (ids), narrowing the cohort. */
  patients: string[] | undefined;
}

/** A kick-off the server refuses: status and OperationOutcome text. */
export class KickoffError extends Error {
  constructor(readonly status: number, message: string, readonly code = "invalid") {
    super(message);
  }
}

const OUTPUT_FORMATS = ["application/fhir+ndjson", "application/ndjson", "ndjson"];
/** Parameters from the spec that are accepted and ignored. */
const IGNORED = [
  "_elements",
  "includeAssociatedData",
  "_until",
  "organizeOutputBy",
  "allowPartialManifests",
];

/** Collects the kick-off parameters as name/value pairs from the query or the POST body. */
function kickoffParams(request: RawRequest, config: Config): [string, string][] {
  if (request.method === "GET") {
    let params: [string, string][];
    try {
      params = decodeQuery(request.query);
    } catch (err) {
      throw err instanceof SearchError ? new KickoffError(400, err.message) : err;
    }
    if (config.rejectRepeatedParams) {
      for (const name of ["_type", "_typeFilter"]) {
        if (params.filter(([n]) => n === name).length > 1) {
          throw new KickoffError(
            400,
            `The ${name} parameter may only be given once (use a comma-separated list)`,
          );
        }
      }
    }
    return params;
  }
  let body: { resourceType?: unknown; parameter?: unknown };
  try {
    body = JSON.parse(new TextDecoder().decode(request.body));
  } catch {
    throw new KickoffError(400, "The POST body is not JSON");
  }
  if (body?.resourceType !== "Parameters") {
    throw new KickoffError(400, "The POST body must be a FHIR Parameters resource");
  }
  const parameters = Array.isArray(body.parameter) ? body.parameter : [];
  return parameters.map((p: Record<string, unknown>) => {
    const name = String(p.name);
    const value = p.valueString ?? p.valueInstant ?? p.valueDateTime ?? p.valueCode ??
      p.valueBoolean ?? (p.valueReference as { reference?: string } | undefined)?.reference;
    if (value === undefined) throw new KickoffError(400, `Parameter "${name}" has no value`);
    return [name, String(value)];
  });
}

/** Parses one `_typeFilter` piece `Type?a=b&c=d` (still percent-encoded) into a predicate. */
function parseTypeFilter(
  piece: string,
  supported: Set<string>,
  config: Config,
): [string, Predicate] {
  const q = piece.indexOf("?");
  if (q <= 0) throw new KickoffError(400, `_typeFilter "${piece}" must look like Type?param=value`);
  const type = piece.slice(0, q);
  if (!supported.has(type)) {
    throw new KickoffError(
      400,
      `_typeFilter "${piece}" names resource type ${type}, which this server does not support`,
    );
  }
  try {
    const pairs = decodeQuery(piece.slice(q + 1));
    return [type, compileQuery(type, pairs, { lastUpdated: config.lastUpdatedSearchParam })];
  } catch (err) {
    if (err instanceof SearchError) {
      throw new KickoffError(400, `Invalid _typeFilter "${piece}": ${err.message}`);
    }
    throw err;
  }
}

/** Validates a kick-off. Throws KickoffError with the status to answer. */
export function parseKickoff(
  request: RawRequest,
  config: Config,
  level: ExportRequest["level"],
  supportedTypes: string[],
  groupId?: string,
): ExportRequest {
  if (!(request.headers["prefer"] ?? "").includes("respond-async")) {
    throw new KickoffError(400, "A bulk export needs the header Prefer: respond-async");
  }
  const supported = new Set(supportedTypes);
  const result: ExportRequest = {
    level,
    ...(groupId !== undefined ? { groupId } : {}),
    types: undefined,
    since: undefined,
    filters: new Map(),
    patients: undefined,
  };
  const filterPieces: string[] = [];
  for (const [name, value] of kickoffParams(request, config)) {
    if (name === "_type") {
      const types = value.split(",").map((t) => t.trim()).filter((t) => t !== "");
      for (const type of types) {
        if (!supported.has(type) || type === "Binary") {
          throw new KickoffError(
            400,
            `Resource type "${type}" is not supported for export`,
            "not-supported",
          );
        }
      }
      result.types = [...new Set([...(result.types ?? []), ...types])];
    } else if (name === "_since") {
      const range = dateRange(value);
      if (!range || !value.includes("T")) {
        throw new KickoffError(400, `_since "${value}" is not a FHIR instant`);
      }
      result.since = range[0];
    } else if (name === "_typeFilter") {
      // Commas separate filters; a comma inside one filter arrives escaped as %2C.
      filterPieces.push(...value.split(",").filter((p) => p !== ""));
    } else if (name === "_outputFormat") {
      if (!OUTPUT_FORMATS.includes(value)) {
        throw new KickoffError(400, `_outputFormat "${value}" is not supported`, "not-supported");
      }
    } else if (name === "patient" && request.method === "POST") {
      result.patients = [...(result.patients ?? []), value.replace(/^.*Patient\//, "")];
    } else if (!IGNORED.includes(name)) {
      throw new KickoffError(400, `Unknown $export parameter "${name}"`, "not-supported");
    }
  }
  for (const piece of filterPieces) {
    const [type, predicate] = parseTypeFilter(piece, supported, config);
    result.filters.set(type, [...(result.filters.get(type) ?? []), predicate]);
  }
  return result;
}
