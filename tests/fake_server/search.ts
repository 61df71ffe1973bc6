/**
 * FHIR REST reads: type searches returning paged `searchset` Bundles, instance reads, and
 * Binary reads that answer raw bytes or a Binary resource depending on Accept.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { mediaRanges } from "./accept.ts";
import type { ServerContext } from "./context.ts";
import type { RawRequest, Reply } from "./http1.ts";
import { json, outcome } from "./reply.ts";
import { compileQuery, decodeQuery } from "./search_params.ts";
import { searchsetBundle } from "./search_bundle.ts";
import { SearchError } from "./search_error.ts";
import type { Resource } from "./types.ts";

const DEFAULT_COUNT = 20;
const MAX_COUNT = 1000;
/** Paging and format parameters, not filters. */
const CONTROL = new Set(["_count", "_offset", "_format", "_total", "_pretty"]);

function unsupported(ctx: ServerContext, type: string): Reply | undefined {
  if (ctx.supportedTypes.includes(type)) return undefined;
  return outcome(404, "not-supported", `Resource type "${type}" is not supported by this server`);
}

/** `GET [base]/<Type>?...`: one page of a searchset Bundle (see search_bundle.ts). */
export function search(ctx: ServerContext, request: RawRequest, type: string): Reply {
  const bad = unsupported(ctx, type);
  if (bad) return bad;
  if (type === "Binary") return outcome(405, "not-supported", "Binary cannot be searched");
  let pairs: [string, string][];
  try {
    pairs = decodeQuery(request.query);
  } catch (err) {
    if (err instanceof SearchError) return outcome(400, "invalid", err.message);
    throw err;
  }
  const filters = pairs.filter(([name]) => !CONTROL.has(name));
  const control = new Map(pairs.filter(([name]) => CONTROL.has(name)));
  if (ctx.config.epic && type === "EpisodeOfCare" && !filters.some(([name]) => name === "type")) {
    // Epic refuses EpisodeOfCare searches without a type.
    return outcome(400, "required", "EpisodeOfCare searches require the type parameter");
  }
  const count = Math.min(MAX_COUNT, Number(control.get("_count") ?? DEFAULT_COUNT));
  const offset = Number(control.get("_offset") ?? 0);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(offset) || offset < 0) {
    return outcome(
      400,
      "invalid",
      "_count must be a positive integer and _offset a non-negative one",
    );
  }
  let matches;
  try {
    matches = compileQuery(type, filters, {
      lastUpdated: ctx.config.lastUpdatedSearchParam,
      identifierOr: ctx.config.identifierOr,
    });
  } catch (err) {
    if (err instanceof SearchError) return outcome(400, "not-supported", err.message);
    throw err;
  }
  const results = candidates(ctx, type, filters).filter(matches);
  return json(
    200,
    searchsetBundle(ctx, { type, query: request.query, pairs, count, offset, results }),
  );
}

/**
 * Narrows the scan with an index: the patient index when the query names patients, else the
 * identifier index when it names identifier values (MRN batches of 50 on 10,000 patients).
 * Results come in the order of the values asked for; the full query is matched afterwards.
 */
function candidates(ctx: ServerContext, type: string, filters: [string, string][]): Resource[] {
  const patientParam = filters.find(([name]) => name === "patient" || name === "subject");
  if (patientParam) {
    const ids = patientParam[1].split(",").map((v) => v.replace(/^.*Patient\//, ""));
    return [...new Set(ids)].flatMap((pid) => ctx.store.forPatient(pid, type));
  }
  const identifier = filters.find(([name]) => name === "identifier");
  if (identifier) {
    const pieces = ctx.config.identifierOr ? identifier[1].split(",") : [identifier[1]];
    // "system|value" or "value"; "system|" (any value of a system) needs the scan.
    const values = pieces.map((piece) => piece.slice(piece.indexOf("|") + 1));
    if (!values.includes("")) {
      return [...new Set(values.flatMap((value) => ctx.store.withIdentifier(type, value)))];
    }
  }
  return ctx.store.resources(type);
}

/** `GET [base]/<Type>/<id>`. */
export function read(ctx: ServerContext, type: string, id: string): Reply {
  const bad = unsupported(ctx, type);
  if (bad) return bad;
  const resource = ctx.store.get(type, id);
  if (!resource) return outcome(404, "not-found", `${type}/${id} is not known`);
  return json(200, resource, {
    etag: 'W/"1"',
    "last-modified": new Date(resource.meta?.lastUpdated ?? 0).toUTCString(),
  });
}

/**
 * `GET [base]/Binary/<id>`: raw bytes when Accept names the Binary's mimetype (or a wildcard),
 * a Binary resource when it asks for FHIR JSON. Anything else still gets the raw bytes with
 * their real Content-Type, as Epic does, so clients must check what they got.
 */
export function readBinary(ctx: ServerContext, request: RawRequest, id: string): Reply {
  const bad = unsupported(ctx, "Binary");
  if (bad) return bad;
  const binary = ctx.store.get("Binary", id);
  if (!binary) return outcome(404, "not-found", `Binary/${id} is not known`);
  const mime = String(binary.contentType ?? "application/octet-stream");
  const ranges = mediaRanges(request.headers["accept"]);
  const wantsRaw = ranges.some((r) => r === mime || r === "*/*" || r === `${mime.split("/")[0]}/*`);
  const wantsJson = ranges.some((r) => r === "application/fhir+json" || r === "application/json");
  if (wantsJson && !ranges.includes(mime)) return json(200, binary);
  const bytes = Buffer.from(String(binary.data ?? ""), "base64");
  const contentType = mime.startsWith("text/") ? `${mime}; charset=utf-8` : mime;
  return {
    status: 200,
    headers: { "content-type": contentType, ...(wantsRaw ? {} : { vary: "accept" }) },
    body: new Uint8Array(bytes),
  };
}
