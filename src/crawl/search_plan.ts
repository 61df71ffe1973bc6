/**
 * What a crawl asks the server for: per type, one search per type filter (filters are OR-ed, so
 * each is its own search and results are de-duplicated by id), plus the since clause, for every
 * patient: `Type?patient=<id>&<filter>&<since>`.
 */

import type { Capabilities } from "../fhir/capability.ts";
import { sinceInstant } from "../fhir/since.ts";
import { CREATED_SINCE_PARAMS } from "../fhir/type_filters.ts";

/** The searches of one type. */
export interface TypePlan {
  type: string;
  /** Filter query strings, one search each; `[""]` for an unfiltered type. */
  filters: string[];
  /** The since clause (`_lastUpdated=gt...`, `recorded-date=gt...`), when the type gets one. */
  since: string | undefined;
}

/** A filter as given (`category=a,b`) made safe for a URL: `+` would read as a space. */
function queryOf(filter: string): string {
  return filter.replaceAll("+", "%2B").replaceAll(" ", "%20");
}

/**
 * The since clause of a type, or undefined: updated mode sends `_lastUpdated=gt<instant>` for
 * every type; created mode sends the type's created-date parameter only where the server's
 * CapabilityStatement lists it (other types are crawled in full).
 */
export function sinceClause(
  type: string,
  value: string | undefined,
  mode: "updated" | "created" | undefined,
  caps: Capabilities,
): string | undefined {
  if (!value || !mode) return undefined;
  if (mode === "updated") return `_lastUpdated=gt${encodeURIComponent(sinceInstant(value))}`;
  const param = CREATED_SINCE_PARAMS[type];
  if (!param || !caps.hasSearchParam(type, param)) return undefined;
  return `${param}=gt${encodeURIComponent(value)}`;
}

/** The plan of one type. */
export function typePlan(
  type: string,
  filters: readonly string[],
  since: string | undefined,
): TypePlan {
  return { type, filters: filters.length ? filters.map(queryOf) : [""], since };
}

/**
 * The URL of a patient's search for a type and filter. `full` leaves out the since clause (new
 * patients get their whole history).
 */
export function searchUrl(
  baseUrl: string,
  plan: TypePlan,
  patient: string,
  filter: string,
  full: boolean,
): string {
  const parts = [`patient=${encodeURIComponent(patient)}`];
  if (filter) parts.push(filter);
  if (plan.since && !full) parts.push(plan.since);
  return `${baseUrl}/${plan.type}?${parts.join("&")}`;
}
