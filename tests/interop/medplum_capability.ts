/**
 * Our own minimal CapabilityStatement for the Medplum interop server: the searchable types with
 * every search parameter Medplum indexed for them, and read-only entries for the other stored
 * types. (Medplum's `MemoryRepository` has no `metadata` endpoint of its own.)
 *
 * @module
 */

import { getSearchParameters, MEDPLUM_VERSION } from "@medplum/core";
import type { Json } from "./medplum_adapter.ts";

/**
 * Medplum-internal parameters that `getOrInitTypeSchema` adds to every type: not FHIR, so not
 * advertised (`_compartment` and `_project` only mean something on Medplum's own server).
 */
const INTERNAL_PARAMS = new Set(["_compartment", "_project"]);

/** Options of {@linkcode capabilityStatement}. */
export interface CapabilityOptions {
  /** FHIR base URL, for `implementation.url`. */
  baseUrl: string;
  /** Types with `read` and `search-type`, listed with their search parameters. */
  searchable: readonly string[];
  /** Further types that are only readable. */
  readOnly: readonly string[];
}

/** The CapabilityStatement served at `[base]/metadata`. */
export function capabilityStatement(options: CapabilityOptions): Json {
  const searchable = options.searchable.map((type) => ({
    type,
    interaction: [{ code: "read" }, { code: "search-type" }],
    searchParam: Object.values(getSearchParameters(type) ?? {})
      .filter((param) => !INTERNAL_PARAMS.has(param.code ?? ""))
      .map((param) => ({
        name: param.code,
        ...(param.url ? { definition: param.url } : {}),
        type: param.type,
      }))
      .sort((a, b) => (a.name ?? "").localeCompare(b.name ?? "")),
  }));
  const readOnly = options.readOnly.map((type) => ({ type, interaction: [{ code: "read" }] }));
  return {
    resourceType: "CapabilityStatement",
    status: "active",
    date: "2025-01-01T00:00:00Z",
    kind: "instance",
    software: { name: "Medplum", version: MEDPLUM_VERSION },
    implementation: {
      description: "Medplum fhir-router over a MemoryRepository (smart-fetch interop tests)",
      url: options.baseUrl,
    },
    fhirVersion: "4.0.1",
    format: ["json"],
    rest: [{ mode: "server", resource: [...searchable, ...readOnly] }],
  };
}
