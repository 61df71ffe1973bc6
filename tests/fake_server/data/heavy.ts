/**
 * A heavy patient's extra Observations: many laboratory and vital-signs results (standard
 * categories, which every default category filter keeps, Epic's too), so that one patient's
 * Observation search spans many pages, as a long inpatient stay does.
 *
 * @module
 */

import { type Code, OBS_CATEGORY_SYSTEM } from "../codes.ts";
import { concept, instant, meta, pad, ref } from "./common.ts";
import { after, type PatientContext, someEncounter } from "./patient.ts";

const LOINC = "http://loinc.org";
const UCUM = "http://unitsofmeasure.org";

/** A result kind: its code, UCUM unit and value range (integers, divided by `scale`). */
interface Kind {
  code: Code;
  unit: string;
  range: [number, number];
  scale: number;
}

const kind = (code: string, display: string, unit: string, range: [number, number], scale = 1) => ({
  code: { system: LOINC, code, display },
  unit,
  range,
  scale,
});

const LABORATORY: Kind[] = [
  kind("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", [65, 210]),
  kind("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", [90, 180], 10),
  kind("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", [5, 25], 10),
  kind("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", [32, 56], 10),
  kind("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", [35, 120], 10),
  kind("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", [120, 280]),
];

const VITAL_SIGNS: Kind[] = [
  kind("8867-4", "Heart rate", "/min", [52, 118]),
  kind("8310-5", "Body temperature", "Cel", [360, 385], 10),
  kind("9279-1", "Respiratory rate", "/min", [12, 24]),
  kind("29463-7", "Body weight", "kg", [45, 120]),
  kind("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", [90, 100]),
];

/**
 * Adds `count` Observations for the patient (`obs-<num>-h0001`, …), about 60% laboratory and
 * 40% vital signs, each within two days of one of the patient's encounters. `ctx.rng` must be
 * the patient's heavy stream, so the rest of the record does not change.
 */
export function generateHeavyObservations(ctx: PatientContext, count: number): void {
  const { rng, pid, num, shared } = ctx;
  const width = Math.max(4, String(count).length);
  for (let k = 1; k <= count; k++) {
    const lab = rng.chance(0.6);
    const category = lab ? "laboratory" : "vital-signs";
    const result = rng.pick(lab ? LABORATORY : VITAL_SIGNS);
    const enc = someEncounter(ctx);
    const effective = after(ctx, enc.start, 2);
    ctx.add({
      resourceType: "Observation",
      id: `obs-${num}-h${pad(k, width)}`,
      meta: meta(rng, effective),
      status: rng.chance(0.05) ? "amended" : "final",
      category: [{ coding: [{ system: OBS_CATEGORY_SYSTEM, code: category }] }],
      code: concept(result.code),
      subject: ref("Patient", pid),
      encounter: ref("Encounter", enc.id),
      effectiveDateTime: instant(effective),
      issued: instant(effective + rng.int(lab ? 1 : 0, lab ? 48 : 1) * 3_600_000),
      performer: [ref("Practitioner", rng.pick(shared.practitioners))],
      valueQuantity: {
        value: rng.int(result.range[0], result.range[1]) / result.scale,
        unit: result.unit,
        system: UCUM,
        code: result.unit,
      },
    });
  }
}
