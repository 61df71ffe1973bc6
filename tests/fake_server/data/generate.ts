/**
 * The whole generated data set: shared resources, then each patient's record, then the Groups
 * `all`, `even` and `odd`. Each patient draws from its own PRNG stream (seed + patient number),
 * so patient 7 is the same whether the server has 20 patients or 1000.
 *
 * @module
 */

import { DATA_START } from "../codes.ts";
import { mixSeed, Random } from "../prng.ts";
import type { Resource } from "../types.ts";
import { instant, pad, ref } from "./common.ts";
import { generateDocuments } from "./documents.ts";
import { generateMedications, generateObservations, generateReports } from "./observations.ts";
import { generatePatientCore, type PatientContext } from "./patient.ts";
import { generateShared } from "./shared.ts";

/** Every resource type the generator makes: patient compartment types first, then shared ones. */
export const GENERATED_TYPES = [
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
  "Binary",
  "Practitioner",
  "PractitionerRole",
  "Location",
  "Organization",
  "Medication",
  "Group",
];

/** Width of the number in patient ids: at least 4 digits (`pat-0001`). */
export function patientIdWidth(patients: number): number {
  return Math.max(4, String(patients).length);
}

/** Generates every resource, in a stable order. */
export function generateData(seed: number, patients: number): Resource[] {
  const out: Resource[] = [];
  const add = (resource: Resource) => void out.push(resource);
  const shared = generateShared(new Random(mixSeed(seed, 0)), add);
  const width = patientIdWidth(patients);
  const pids: string[] = [];
  for (let index = 1; index <= patients; index++) {
    const num = pad(index, width);
    const ctx: PatientContext = {
      rng: new Random(mixSeed(seed, index)),
      index,
      pid: `pat-${num}`,
      num,
      shared,
      add,
      encounters: [],
      episodeId: "",
    };
    pids.push(ctx.pid);
    generatePatientCore(ctx);
    const observations = generateObservations(ctx);
    generateReports(ctx, observations);
    generateDocuments(ctx);
    generateMedications(ctx);
  }
  out.push(groupResource("all", "All patients", pids));
  out.push(groupResource("even", "Even-numbered patients", pids.filter((_, i) => i % 2 === 1)));
  out.push(groupResource("odd", "Odd-numbered patients", pids.filter((_, i) => i % 2 === 0)));
  return out;
}

/** A Group resource listing patients. */
export function groupResource(id: string, name: string, members: string[]): Resource {
  return {
    resourceType: "Group",
    id,
    meta: { lastUpdated: instant(DATA_START) },
    type: "person",
    actual: true,
    name,
    quantity: members.length,
    member: members.map((pid) => ({ entity: ref("Patient", pid) })),
  };
}
