/**
 * Results and medications: Observations (standard and non-standard categories, some panels
 * with `hasMember`), DiagnosticReports (with `result` and a `presentedForm`), MedicationRequests
 * and MedicationDispenses referencing the shared Medications.
 *
 * @module
 */

import {
  EPIC_CATEGORY_SYSTEM,
  OBS_CATEGORIES,
  OBS_CATEGORY_SYSTEM,
  OBS_KINDS,
  REPORTS,
} from "../codes.ts";
import { concept, instant, meta, pad, ref } from "./common.ts";
import { binaryAttachment } from "./documents.ts";
import { after, type PatientContext, someEncounter } from "./patient.ts";

const STANDARD = new Set<string>(OBS_CATEGORIES.slice(0, 9));

function categoryConcept(code: string): { coding: { system: string; code: string }[] } {
  return {
    coding: [{ system: STANDARD.has(code) ? OBS_CATEGORY_SYSTEM : EPIC_CATEGORY_SYSTEM, code }],
  };
}

/** Generates 5–10 Observations and returns their ids. */
export function generateObservations(ctx: PatientContext): string[] {
  const { rng, pid, num, shared } = ctx;
  const ids: string[] = [];
  const count = rng.int(5, 10);
  for (let k = 1; k <= count; k++) {
    // Rotate through the categories so every category appears across a few patients.
    const category = OBS_CATEGORIES[(ctx.index + k) % OBS_CATEGORIES.length]!;
    const kind = OBS_KINDS[category]!;
    const enc = someEncounter(ctx);
    const effective = after(ctx, enc.start, 1);
    const id = `obs-${num}-${pad(k, 2)}`;
    ids.push(id);
    const categories = [categoryConcept(category)];
    // Some lab results are also SmartData, as Epic tags them: two categories on one resource.
    if (category === "laboratory" && k % 2 === 0) categories.push(categoryConcept("smartdata"));
    const value = kind.text ? { valueString: rng.pick(kind.text) } : {
      valueQuantity: {
        value: rng.int(kind.range![0], kind.range![1]),
        unit: kind.unit,
        system: "http://unitsofmeasure.org",
        code: kind.unit,
      },
    };
    const panel = k === count && ctx.index % 4 === 0 && ids.length > 2;
    ctx.add({
      resourceType: "Observation",
      id,
      meta: meta(rng, effective),
      status: rng.chance(0.1) ? "amended" : rng.chance(0.08) ? "preliminary" : "final",
      category: panel ? [categoryConcept("vital-signs")] : categories,
      code: panel
        ? concept({ system: "http://loinc.org", code: "85353-1", display: "Vital signs panel" })
        : concept(kind.code),
      subject: ref("Patient", pid),
      encounter: ref("Encounter", enc.id),
      effectiveDateTime: instant(effective),
      issued: instant(effective + rng.int(1, 72) * 3_600_000),
      performer: [ref("Practitioner", rng.pick(shared.practitioners))],
      ...(panel
        ? { hasMember: [ref("Observation", ids[0]!), ref("Observation", ids[1]!)] }
        : value),
    });
  }
  return ids;
}

/** Generates 1–2 DiagnosticReports whose results are some of the patient's Observations. */
export function generateReports(ctx: PatientContext, observations: string[]): void {
  const { rng, pid, num, shared } = ctx;
  for (let k = 1, n = rng.int(1, 2); k <= n; k++) {
    const enc = someEncounter(ctx);
    const effective = after(ctx, enc.start, 1);
    const issued = effective + rng.int(2, 96) * 3_600_000;
    const code = rng.pick(REPORTS);
    const results = observations.filter((_, i) => (i + k) % 3 === 0).slice(0, 3);
    ctx.add({
      resourceType: "DiagnosticReport",
      id: `dxr-${num}-${k}`,
      meta: meta(rng, issued),
      status: "final",
      category: [{
        coding: [{ system: "http://terminology.hl7.org/CodeSystem/v2-0074", code: "LAB" }],
      }],
      code: concept(code),
      subject: ref("Patient", pid),
      encounter: ref("Encounter", enc.id),
      effectiveDateTime: instant(effective),
      issued: instant(issued),
      performer: [ref("Organization", shared.organizations[2]!)],
      resultsInterpreter: [ref("Practitioner", rng.pick(shared.practitioners))],
      result: results.map((id) => ref("Observation", id)),
      presentedForm: [
        binaryAttachment(
          ctx,
          `bin-${num}-r${k}`,
          k === 1 ? "text/html" : "text/plain",
          code.display,
          issued,
        ),
      ],
    });
  }
}

/** Generates 1–3 MedicationRequests and 0–2 MedicationDispenses of them. */
export function generateMedications(ctx: PatientContext): void {
  const { rng, pid, num, shared } = ctx;
  const requests: { id: string; med: string; authored: number }[] = [];
  for (let k = 1, n = rng.int(1, 3); k <= n; k++) {
    const enc = someEncounter(ctx);
    const authored = after(ctx, enc.start, 1);
    const med = rng.pick(shared.medications);
    const id = `medreq-${num}-${k}`;
    requests.push({ id, med, authored });
    ctx.add({
      resourceType: "MedicationRequest",
      id,
      meta: meta(rng, authored),
      status: rng.pick(["active", "completed", "stopped"]),
      intent: "order",
      medicationReference: ref("Medication", med),
      subject: ref("Patient", pid),
      encounter: ref("Encounter", enc.id),
      authoredOn: instant(authored),
      requester: ref("Practitioner", rng.pick(shared.practitioners)),
      recorder: ref("PractitionerRole", rng.pick(shared.roles)),
      dosageInstruction: [{ text: rng.pick(["Take 1 tablet daily", "Take 1 tablet twice daily"]) }],
    });
  }
  for (let k = 1, n = rng.int(0, 2); k <= n; k++) {
    const request = rng.pick(requests);
    const handed = request.authored + rng.int(1, 72) * 3_600_000;
    ctx.add({
      resourceType: "MedicationDispense",
      id: `meddisp-${num}-${k}`,
      meta: meta(rng, handed),
      status: "completed",
      medicationReference: ref("Medication", request.med),
      subject: ref("Patient", pid),
      context: ref("EpisodeOfCare", ctx.episodeId),
      authorizingPrescription: [ref("MedicationRequest", request.id)],
      performer: [{ actor: ref("Practitioner", rng.pick(shared.practitioners)) }],
      location: ref("Location", shared.locations[4]!),
      quantity: { value: rng.pick([30, 60, 90]), unit: "tablet" },
      whenHandedOver: instant(handed),
    });
  }
}
