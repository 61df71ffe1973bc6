/**
 * One patient's core record: the Patient, Encounters, an EpisodeOfCare, Conditions,
 * AllergyIntolerances, Immunizations, a Device, Procedures and ServiceRequests.
 *
 * @module
 */

import {
  ALLERGIES,
  CONDITIONS,
  DATA_END,
  DATA_START,
  DEVICES,
  ENCOUNTER_CLASSES,
  EPISODE_TYPES,
  FAMILY_NAMES,
  GIVEN_NAMES,
  PROCEDURES,
  SERVICES,
  VACCINES,
} from "../codes.ts";
import type { Random } from "../prng.ts";
import { concept, day, instant, meta, pad, ref, type Sink } from "./common.ts";
import type { SharedIds } from "./shared.ts";

/** The system of generated MRNs. */
export const MRN_SYSTEM = "urn:oid:1.2.3.4";

/** Everything the per-patient generators share. */
export interface PatientContext {
  rng: Random;
  /** 1-based patient number. */
  index: number;
  /** Patient id, e.g. `pat-0001`. */
  pid: string;
  /** The number part of ids, e.g. `0001`. */
  num: string;
  shared: SharedIds;
  add: Sink;
  /** Filled by {@linkcode generatePatientCore}: the encounters, for later references. */
  encounters: { id: string; start: number }[];
  /** Filled by {@linkcode generatePatientCore}: the EpisodeOfCare id. */
  episodeId: string;
  /** The MRN value (for a duplicate-MRN patient, another patient's). @default `MRN<num>` */
  mrn?: string;
}

const YEAR = 365 * 86_400_000;
const CLINICAL_END = DATA_END - 30 * 86_400_000;

/** A clinical instant: some time after an encounter starts. */
export function after(ctx: PatientContext, startMs: number, maxDays: number): number {
  return Math.min(startMs + ctx.rng.int(0, maxDays * 24) * 3_600_000, CLINICAL_END);
}

/** Picks one of the patient's encounters. */
export function someEncounter(ctx: PatientContext): { id: string; start: number } {
  return ctx.rng.pick(ctx.encounters);
}

/** Generates the Patient, Encounters, EpisodeOfCare and the smaller clinical types. */
export function generatePatientCore(ctx: PatientContext): void {
  const { rng, pid, num, shared, add } = ctx;
  const birth = rng.instant(Date.UTC(1940, 0, 1), Date.UTC(2015, 0, 1));
  const links: unknown[] = [];
  if (ctx.index % 6 === 0) {
    links.push({ other: ref("Patient", `pat-merged-${num}`), type: "replaces" });
  }
  if (ctx.index % 9 === 0) links.push({ other: ref("Patient", `pat-${num}-alt`), type: "seealso" });
  add({
    resourceType: "Patient",
    id: pid,
    meta: meta(rng, rng.instant(DATA_START, CLINICAL_END)),
    identifier: [{
      use: "usual",
      type: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v2-0203", code: "MR" }] },
      system: MRN_SYSTEM,
      value: ctx.mrn ?? `MRN${num}`,
    }],
    active: true,
    name: [{ use: "official", family: rng.pick(FAMILY_NAMES), given: [rng.pick(GIVEN_NAMES)] }],
    gender: rng.pick(["female", "male", "female", "male", "other", "unknown"]),
    birthDate: day(birth),
    address: [{ city: "Boston", state: "MA", postalCode: `021${pad(rng.int(0, 99), 2)}` }],
    generalPractitioner: [ref("Practitioner", rng.pick(shared.practitioners))],
    managingOrganization: ref("Organization", shared.organizations[0]!),
    ...(links.length > 0 ? { link: links } : {}),
  });

  const episodeStart = rng.instant(DATA_START, CLINICAL_END - YEAR);
  ctx.episodeId = `eoc-${num}-1`;
  add({
    resourceType: "EpisodeOfCare",
    id: ctx.episodeId,
    meta: meta(rng, episodeStart),
    status: rng.pick(["active", "finished"]),
    type: [concept(rng.pick(EPISODE_TYPES))],
    patient: ref("Patient", pid),
    managingOrganization: ref("Organization", rng.pick(shared.organizations)),
    period: { start: instant(episodeStart) },
    careManager: ref("Practitioner", rng.pick(shared.practitioners)),
  });

  const encounterCount = rng.int(2, 4);
  for (let k = 1; k <= encounterCount; k++) {
    const start = rng.instant(DATA_START, CLINICAL_END);
    const id = `enc-${num}-${k}`;
    ctx.encounters.push({ id, start });
    add({
      resourceType: "Encounter",
      id,
      meta: meta(rng, start),
      status: "finished",
      class: rng.pick(ENCOUNTER_CLASSES),
      subject: ref("Patient", pid),
      participant: [{ individual: ref("Practitioner", rng.pick(shared.practitioners)) }],
      period: { start: instant(start), end: instant(start + rng.int(1, 48) * 1_800_000) },
      location: [{ location: ref("Location", rng.pick(shared.locations)) }],
      serviceProvider: ref("Organization", rng.pick(shared.organizations)),
      ...(k === 1 ? { episodeOfCare: [ref("EpisodeOfCare", ctx.episodeId)] } : {}),
    });
  }

  for (let k = 1, n = rng.int(1, 3); k <= n; k++) {
    const enc = someEncounter(ctx);
    const recorded = after(ctx, enc.start, 3);
    add({
      resourceType: "Condition",
      id: `cond-${num}-${k}`,
      meta: meta(rng, recorded),
      clinicalStatus: {
        coding: [{
          system: "http://terminology.hl7.org/CodeSystem/condition-clinical",
          code: rng.pick(["active", "resolved", "active"]),
        }],
      },
      category: [{
        coding: [{
          system: "http://terminology.hl7.org/CodeSystem/condition-category",
          code: rng.pick(["problem-list-item", "encounter-diagnosis"]),
        }],
      }],
      code: concept(rng.pick(CONDITIONS)),
      subject: ref("Patient", pid),
      encounter: ref("Encounter", enc.id),
      onsetDateTime: instant(enc.start - rng.int(0, 900) * 86_400_000),
      recordedDate: instant(recorded),
      recorder: ref("Practitioner", rng.pick(shared.practitioners)),
      ...(rng.chance(0.4) ? { asserter: ref("PractitionerRole", rng.pick(shared.roles)) } : {}),
    });
  }

  for (let k = 1, n = rng.int(0, 2); k <= n; k++) {
    const recorded = after(ctx, someEncounter(ctx).start, 2);
    add({
      resourceType: "AllergyIntolerance",
      id: `allergy-${num}-${k}`,
      meta: meta(rng, recorded),
      clinicalStatus: {
        coding: [{
          system: "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
          code: "active",
        }],
      },
      code: concept(rng.pick(ALLERGIES)),
      patient: ref("Patient", pid),
      recordedDate: instant(recorded),
      recorder: ref("Practitioner", rng.pick(shared.practitioners)),
    });
  }

  for (let k = 1, n = rng.int(0, 2); k <= n; k++) {
    const when = after(ctx, someEncounter(ctx).start, 1);
    add({
      resourceType: "Immunization",
      id: `imm-${num}-${k}`,
      meta: meta(rng, when),
      status: "completed",
      vaccineCode: concept(rng.pick(VACCINES)),
      patient: ref("Patient", pid),
      occurrenceDateTime: instant(when),
      recorded: instant(when),
      location: ref("Location", rng.pick(shared.locations)),
      manufacturer: ref("Organization", shared.organizations[2]!),
      performer: [{ actor: ref("Practitioner", rng.pick(shared.practitioners)) }],
    });
  }

  if (rng.chance(0.5)) {
    const when = after(ctx, someEncounter(ctx).start, 5);
    add({
      resourceType: "Device",
      id: `dev-${num}-1`,
      meta: meta(rng, when),
      status: "active",
      type: concept(rng.pick(DEVICES)),
      patient: ref("Patient", pid),
      owner: ref("Organization", shared.organizations[0]!),
      location: ref("Location", rng.pick(shared.locations)),
    });
  }

  for (let k = 1, n = rng.int(0, 2); k <= n; k++) {
    const enc = someEncounter(ctx);
    const when = after(ctx, enc.start, 1);
    add({
      resourceType: "Procedure",
      id: `proc-${num}-${k}`,
      meta: meta(rng, when),
      status: "completed",
      code: concept(rng.pick(PROCEDURES)),
      subject: ref("Patient", pid),
      encounter: ref("Encounter", enc.id),
      performedDateTime: instant(when),
      recorder: ref("Practitioner", rng.pick(shared.practitioners)),
      performer: [{
        actor: ref("Practitioner", rng.pick(shared.practitioners)),
        onBehalfOf: ref("Organization", shared.organizations[0]!),
      }],
      location: ref("Location", rng.pick(shared.locations)),
    });
  }

  for (let k = 1, n = rng.int(0, 2); k <= n; k++) {
    const enc = someEncounter(ctx);
    const authored = after(ctx, enc.start, 1);
    add({
      resourceType: "ServiceRequest",
      id: `sr-${num}-${k}`,
      meta: meta(rng, authored),
      status: rng.pick(["active", "completed"]),
      intent: "order",
      code: concept(rng.pick(SERVICES)),
      subject: ref("Patient", pid),
      encounter: ref("Encounter", enc.id),
      authoredOn: instant(authored),
      requester: ref("Practitioner", rng.pick(shared.practitioners)),
      performer: [ref("Organization", rng.pick(shared.organizations))],
      locationReference: [ref("Location", rng.pick(shared.locations))],
    });
  }
}
