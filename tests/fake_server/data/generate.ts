/**
 * The whole generated data set: shared resources, then each patient's record (and a heavy
 * patient's extra Observations), then extra duplicate-MRN patients, then the Groups `all`, `even`
 * and `odd`. Each patient draws from its own PRNG stream (seed + patient number), so patient 7
 * is the same whether the server has 20 patients or 1000, heavy patients or not.
 *
 * @module
 */

import { DATA_START } from "../codes.ts";
import { mixSeed, Random } from "../prng.ts";
import type { Resource } from "../types.ts";
import { instant, pad, ref } from "./common.ts";
import { generateDocuments } from "./documents.ts";
import { generateHeavyObservations } from "./heavy.ts";
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

/** What the data set holds beyond the numbered patients' records. */
export interface GenerateOptions {
  /** The first `count` patients get `observations` extra Observations each. @default undefined */
  heavyPatients?: { count: number; observations: number } | undefined;
  /** MRNs each given to one extra patient too (`pat-dup-1`, … in order). @default [] */
  duplicateMrns?: string[];
}

/** PRNG stream tags, so options draw from streams of their own and change nothing else. */
const HEAVY_STREAM = 0x68656176;
const DUPLICATE_STREAM = 0x64757073;

/** One patient's whole record. */
function generatePatient(ctx: PatientContext): void {
  generatePatientCore(ctx);
  const observations = generateObservations(ctx);
  generateReports(ctx, observations);
  generateDocuments(ctx);
  generateMedications(ctx);
}

/** Generates every resource, in a stable order. */
export function generateData(
  seed: number,
  patients: number,
  options: GenerateOptions = {},
): Resource[] {
  const out: Resource[] = [];
  const add = (resource: Resource) => void out.push(resource);
  const shared = generateShared(new Random(mixSeed(seed, 0)), add);
  const width = patientIdWidth(patients);
  const pids: string[] = [];
  const patient = (rng: Random, index: number, num: string, mrn?: string): PatientContext => ({
    rng,
    index,
    pid: `pat-${num}`,
    num,
    shared,
    add,
    encounters: [],
    episodeId: "",
    ...(mrn === undefined ? {} : { mrn }),
  });
  const heavy = options.heavyPatients;
  for (let index = 1; index <= patients; index++) {
    const ctx = patient(new Random(mixSeed(seed, index)), index, pad(index, width));
    pids.push(ctx.pid);
    generatePatient(ctx);
    if (heavy && index <= heavy.count) {
      const rng = new Random(mixSeed(seed, index, HEAVY_STREAM));
      generateHeavyObservations({ ...ctx, rng }, heavy.observations);
    }
  }
  const duplicates = (options.duplicateMrns ?? []).map((mrn, i) => {
    const ctx = patient(
      new Random(mixSeed(seed, DUPLICATE_STREAM, i + 1)),
      i + 1,
      `dup-${i + 1}`,
      mrn,
    );
    generatePatient(ctx);
    return ctx.pid;
  });
  out.push(groupResource("all", "All patients", [...pids, ...duplicates]));
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
