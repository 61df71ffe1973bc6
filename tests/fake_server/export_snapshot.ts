/**
 * Selecting what an export contains, at kick-off: the cohort (all, the Patient compartment, or a
 * Group's members), the types, `_since`, `_typeFilter`, and the deletions to report.
 *
 * @module
 */

import type { ExportRequest } from "./export_request.ts";
import type { DataStore } from "./store.ts";
import type { Resource } from "./types.ts";

/** Resource types in the Patient compartment (exported at Patient and Group level). */
export const COMPARTMENT_TYPES = new Set([
  "Patient",
  "Encounter",
  "Condition",
  "Observation",
  "DocumentReference",
  "DiagnosticReport",
  "MedicationRequest",
  "MedicationDispense",
  "Procedure",
  "Immunization",
  "AllergyIntolerance",
  "Device",
  "ServiceRequest",
  "EpisodeOfCare",
]);

/** What one export holds: resources per type, in order, and deletion Bundles. */
export interface Snapshot {
  outputs: { type: string; resources: Resource[] }[];
  /** One DELETE transaction Bundle per removed resource (not Resources: they have no id). */
  deleted: Record<string, unknown>[];
}

/** Types exported when `_type` is absent. */
export function defaultTypes(level: ExportRequest["level"], supportedTypes: string[]): string[] {
  return supportedTypes.filter((type) =>
    type !== "Binary" && (level === "system" || COMPARTMENT_TYPES.has(type))
  );
}

function lastUpdatedMs(resource: Resource): number {
  const value = resource.meta?.lastUpdated;
  return typeof value === "string" ? Date.parse(value) : Number.NaN;
}

/** Takes the snapshot for a validated request. */
export function takeSnapshot(
  store: DataStore,
  request: ExportRequest,
  supportedTypes: string[],
): Snapshot {
  let cohort: string[] | undefined;
  if (request.level === "patient") cohort = store.resources("Patient").map((p) => p.id);
  if (request.level === "group") cohort = store.groupMembers(request.groupId ?? "") ?? [];
  if (request.patients && cohort) {
    const wanted = new Set(request.patients);
    cohort = cohort.filter((id) => wanted.has(id));
  }
  const types = request.types ?? defaultTypes(request.level, supportedTypes);
  const outputs = types.map((type) => {
    let resources: Resource[];
    if (!cohort) resources = store.resources(type);
    else if (!COMPARTMENT_TYPES.has(type)) resources = [];
    else resources = cohort.flatMap((pid) => store.forPatient(pid, type));
    const since = request.since;
    if (since !== undefined) resources = resources.filter((r) => lastUpdatedMs(r) > since);
    const filters = request.filters.get(type);
    if (filters) resources = resources.filter((r) => filters.some((matches) => matches(r)));
    return { type, resources };
  }).filter((output) => output.resources.length > 0);

  const deleted: Record<string, unknown>[] = [];
  if (request.since !== undefined) {
    const wantedTypes = new Set(types);
    const members = new Set(cohort ?? []);
    for (const removal of store.removalsSince(request.since)) {
      if (!wantedTypes.has(removal.type)) continue;
      if (request.level !== "system") {
        if (!COMPARTMENT_TYPES.has(removal.type) || removal.patient === undefined) continue;
        const wasMember = request.level === "group" &&
          removal.groups.includes(request.groupId ?? "");
        if (request.level === "group" && !members.has(removal.patient) && !wasMember) continue;
      }
      deleted.push({
        resourceType: "Bundle",
        type: "transaction",
        entry: [{ request: { method: "DELETE", url: `${removal.type}/${removal.id}` } }],
      });
    }
  }
  return { outputs, deleted };
}
