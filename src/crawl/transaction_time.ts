/**
 * A crawl's transaction time per type, by SMART Fetch's rules, so Cumulus ETL's completeness
 * tracking is right: the time the type's crawl started, unless the newest date seen in the
 * returned resources is earlier (a server whose clock or data lag behind). Dates looked at:
 * `meta.lastUpdated` and the type's created-date field.
 */

/** The created-date field of each type, as SMART Fetch reads it. */
const CREATED_FIELD: Readonly<Record<string, string>> = {
  AllergyIntolerance: "recordedDate",
  Condition: "recordedDate",
  DiagnosticReport: "issued",
  Observation: "issued",
  DocumentReference: "date",
  Immunization: "recorded",
  MedicationRequest: "authoredOn",
  ServiceRequest: "authoredOn",
};

/**
 * A FHIR date, dateTime or instant as epoch ms: partial dates (`2020`, `2020-01`) and times
 * without a zone are taken as their EARLIEST instant (zone +14:00); a leap second `:60` counts as
 * `:59`. Undefined when it is not a date.
 */
export function earliestInstant(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const m =
    /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/
      .exec(value.trim());
  if (!m) return undefined;
  const [, y, mo = "01", d = "01", h = "00", mi = "00", sRaw = "00", frac = "", zone] = m;
  const s = sRaw === "60" ? "59" : sRaw;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}${frac}${zone ?? "+14:00"}`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The newest usable date of a resource (never in the future), or undefined. */
export function newestDate(resource: Record<string, unknown>, nowMs: number): number | undefined {
  const meta = resource.meta as { lastUpdated?: unknown } | undefined;
  const field = CREATED_FIELD[String(resource.resourceType)];
  let best: number | undefined;
  for (const value of [meta?.lastUpdated, field ? resource[field] : undefined]) {
    const ms = earliestInstant(value);
    if (ms === undefined || ms > nowMs) continue;
    if (best === undefined || ms > best) best = ms;
  }
  return best;
}

/** The transaction time of a type: its start, or the newest date seen when that is earlier. */
export function transactionTime(startedMs: number, newestSeenMs: number | undefined): number {
  return newestSeenMs !== undefined && newestSeenMs < startedMs ? newestSeenMs : startedMs;
}
