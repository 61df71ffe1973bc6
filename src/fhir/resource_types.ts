/** FHIR resource type lists and the checks that keep server-given names safe. */

/**
 * The types `export`/`bulk` request by default, in SMART Fetch's processing order.
 * Patient first, then Encounter (Cumulus asks for Encounters with or before linked data).
 */
export const DEFAULT_TYPES = [
  "Patient",
  "Encounter",
  "AllergyIntolerance",
  "Condition",
  "Device",
  "DiagnosticReport",
  "DocumentReference",
  "EpisodeOfCare",
  "Immunization",
  "MedicationDispense",
  "MedicationRequest",
  "Observation",
  "Procedure",
  "ServiceRequest",
] as const;

/** Types that only arrive through hydration (never requested directly). */
export const HYDRATION_TYPES = [
  "Binary",
  "Location",
  "Medication",
  "Organization",
  "Practitioner",
  "PractitionerRole",
] as const;

/** Every type SMART Fetch knows: the 14 patient types and the 6 hydration types. */
export const ALL_KNOWN_TYPES: readonly string[] = [...DEFAULT_TYPES, ...HYDRATION_TYPES];

/**
 * The shape of a FHIR resource type name. Names that come from a server (manifest `type`,
 * `resourceType`) must match before they become part of a file name, so a hostile manifest
 * cannot write outside the folder (`../x`, `a/b`, `.hidden`).
 */
const TYPE_NAME = /^[A-Z][A-Za-z]{0,63}$/;

/** True when `name` looks like a FHIR resource type name. */
export function isTypeName(name: unknown): name is string {
  return typeof name === "string" && TYPE_NAME.test(name);
}

/**
 * Resolves user-given type names (case-insensitive, comma lists, `all`) to canonical names.
 * Returns the unknown names separately so the caller can report them.
 */
export function resolveTypeNames(
  values: readonly string[],
): { types: string[]; unknown: string[] } {
  const byLower = new Map(DEFAULT_TYPES.map((t) => [t.toLowerCase(), t as string]));
  const wanted = new Set<string>();
  const unknown: string[] = [];
  for (const value of values) {
    for (const raw of value.split(",")) {
      const name = raw.trim();
      if (!name) continue;
      if (name.toLowerCase() === "all") {
        DEFAULT_TYPES.forEach((t) => wanted.add(t));
        continue;
      }
      const canonical = byLower.get(name.toLowerCase());
      if (canonical) wanted.add(canonical);
      else unknown.push(name);
    }
  }
  // Keep the canonical processing order whatever order the user gave.
  const types = DEFAULT_TYPES.filter((t) => wanted.has(t));
  return { types, unknown };
}
