/**
 * Small helpers shared by the data generators: references, dates and `meta`.
 *
 * @module
 */

import { DATA_END } from "../codes.ts";
import type { Random } from "../prng.ts";
import type { Resource } from "../types.ts";

/** Collects generated resources in generation order. */
export type Sink = (resource: Resource) => void;

/** A reference object `{reference: "Type/id"}`. */
export function ref(type: string, id: string): { reference: string } {
  return { reference: `${type}/${id}` };
}

/** An instant as FHIR writes it (UTC, whole seconds). */
export function instant(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

/** A FHIR date (YYYY-MM-DD). */
export function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `meta` with a lastUpdated some time after the clinical date, before the data set ends. */
export function meta(rng: Random, createdMs: number): { lastUpdated: string } {
  const room = Math.max(0, Math.min(400 * 86_400_000, DATA_END - 1000 - createdMs));
  return { lastUpdated: instant(Math.floor((createdMs + rng.next() * room) / 1000) * 1000) };
}

/** A CodeableConcept from one coding. */
export function concept(code: { system: string; code: string; display: string }): {
  coding: { system: string; code: string; display: string }[];
  text: string;
} {
  return {
    coding: [{ system: code.system, code: code.code, display: code.display }],
    text: code.display,
  };
}

/** Zero-padded number. */
export function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}
