/**
 * Export files wrapped in Binary resources, as HAPI FHIR and Smile CDR serve them
 * (`filesAsBinary`): the NDJSON (or its gzip, `binaryGzipContent`) base64-encoded in `data`,
 * as FHIR JSON or XML. Old HAPI ignores `Accept: application/fhir+ndjson` here (hapi-fhir
 * issue 4051), so a client cannot ask for the raw file.
 *
 * @module
 */

import { mediaRanges } from "./accept.ts";
import {
  base64Bytes,
  base64Stream,
  type Body,
  gzipBody,
  wrapBytes,
  wrapStream,
} from "./byte_streams.ts";
import type { Config } from "./config.ts";
import { FHIR_NDJSON } from "./reply.ts";

/** HAPI's JSON Content-Type (no space before charset, upper-case UTF-8). */
export const HAPI_JSON = "application/fhir+json;charset=UTF-8";
/** HAPI's XML Content-Type. */
export const HAPI_XML = "application/fhir+xml;charset=UTF-8";

/** "json" servers always answer JSON; "xml" servers answer JSON only when Accept asks for it. */
function format(config: Config, accept: string | undefined): "json" | "xml" {
  if (config.filesAsBinary !== "xml") return "json";
  const ranges = mediaRanges(accept);
  return ranges.some((r) => r === "application/fhir+json" || r === "application/json")
    ? "json"
    : "xml";
}

function xmlAttribute(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
}

/** What goes before and after the base64 data. */
function frame(config: Config, id: string, as: "json" | "xml"): [string, string] {
  if (as === "xml") {
    return [
      `<Binary xmlns="http://hl7.org/fhir"><id value="${xmlAttribute(id)}"/>` +
      `<contentType value="${FHIR_NDJSON}"/><data value="`,
      `"/></Binary>`,
    ];
  }
  const rest = `"id":${JSON.stringify(id)},"contentType":${JSON.stringify(FHIR_NDJSON)}`;
  return config.binaryKeyOrder === "data-first"
    ? [`{"resourceType":"Binary","data":"`, `",${rest}}`]
    : [`{"resourceType":"Binary",${rest},"data":"`, `"}`];
}

/** The Binary resource `id` holding `ndjson`, and its Content-Type, for a request's Accept. */
export function wrapInBinary(
  config: Config,
  file: { id: string; ndjson: Body; accept: string | undefined },
): { contentType: string; body: Body } {
  const as = format(config, file.accept);
  const [prefix, suffix] = frame(config, file.id, as);
  const data = config.binaryGzipContent ? gzipBody(file.ndjson) : file.ndjson;
  const body = data instanceof Uint8Array
    ? wrapBytes(prefix, base64Bytes(data), suffix)
    : wrapStream(prefix, data.pipeThrough(base64Stream()), suffix);
  return { contentType: as === "json" ? HAPI_JSON : HAPI_XML, body };
}
