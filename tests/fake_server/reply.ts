/**
 * Building replies: FHIR JSON, OperationOutcomes, OAuth errors, plain text and HTML.
 *
 * @module
 */

import type { Reply } from "./http1.ts";
import type { IssueSeverity, Resource } from "./types.ts";

const encoder = new TextEncoder();

/** The FHIR JSON media type. */
export const FHIR_JSON = "application/fhir+json; charset=utf-8";
/** The bulk NDJSON media type. */
export const FHIR_NDJSON = "application/fhir+ndjson";

/** A JSON reply. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = FHIR_JSON,
): Reply {
  return {
    status,
    headers: { "content-type": contentType, ...headers },
    body: encoder.encode(JSON.stringify(body)),
  };
}

/** An OperationOutcome with one issue. */
export function operationOutcome(
  severity: IssueSeverity,
  code: string,
  diagnostics: string,
): Resource {
  return {
    resourceType: "OperationOutcome",
    id: crypto.randomUUID(),
    issue: [{ severity, code, diagnostics, details: { text: diagnostics } }],
  };
}

/** An error reply carrying an OperationOutcome. */
export function outcome(
  status: number,
  code: string,
  diagnostics: string,
  headers: Record<string, string> = {},
): Reply {
  return json(status, operationOutcome("error", code, diagnostics), headers);
}

/** An OAuth 2 error reply `{error, error_description}`. */
export function oauthError(status: number, error: string, description: string): Reply {
  return json(
    status,
    { error, error_description: description },
    { "cache-control": "no-store" },
    "application/json",
  );
}

/** A plain-text reply. */
export function text(status: number, body: string, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
    body: encoder.encode(body),
  };
}

/** An HTML reply (for servers that are not FHIR servers at all). */
export function html(
  status: number,
  page: string,
  contentType = "text/html; charset=utf-8",
): Reply {
  return { status, headers: { "content-type": contentType }, body: encoder.encode(page) };
}

/** A reply with no body. */
export function empty(status: number, headers: Record<string, string> = {}): Reply {
  return { status, headers };
}
