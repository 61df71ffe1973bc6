/** `--type-filter` parsing, the default Observation filter, and their wire form. */

import { UsageError } from "../errors.ts";

/** Filters per type: `{Observation: ["category=laboratory"]}`; `[]` means unfiltered. */
export type TypeFilters = Record<string, string[]>;

/** The nine standard R4 Observation categories, in SMART Fetch's order. */
export const STANDARD_OBSERVATION_CATEGORIES: readonly string[] = [
  "social-history",
  "vital-signs",
  "imaging",
  "laboratory",
  "survey",
  "exam",
  "procedure",
  "therapy",
  "activity",
];

/**
 * The default Observation filter. Observations are the biggest type by far; only the standard
 * categories are useful downstream. Epic does not support the last three categories.
 */
export function defaultObservationFilter(isEpic: boolean): string {
  const categories = isEpic
    ? STANDARD_OBSERVATION_CATEGORIES.slice(0, -3)
    : STANDARD_OBSERVATION_CATEGORIES;
  return `category=${categories.join(",")}`;
}

/** Options for {@linkcode buildTypeFilters}. */
export interface TypeFilterOptions {
  /** Apply the default Observation category filter when no Observation filter is given. */
  defaultFilters: boolean;
  /** The server is Epic (fewer default categories). */
  isEpic: boolean;
}

/**
 * Parses `--type-filter` values (`Type?params`, OR-ed per type) for the selected types.
 * Every selected type gets an entry; values are sorted so that metadata compares stably.
 */
export function buildTypeFilters(
  types: readonly string[],
  values: readonly string[],
  options: TypeFilterOptions,
): TypeFilters {
  const byLower = new Map(types.map((t) => [t.toLowerCase(), t]));
  const filters: TypeFilters = Object.fromEntries(types.map((t) => [t, [] as string[]]));
  for (const value of values) {
    const at = value.indexOf("?");
    if (at <= 0 || at === value.length - 1) {
      throw new UsageError(
        `Type filter "${value}" must be in the format 'Resource?params', for example Observation?category=laboratory.`,
      );
    }
    const typeName = value.slice(0, at);
    const type = byLower.get(typeName.toLowerCase());
    if (!type) {
      throw new UsageError(
        `Type filter for ${typeName} but that type is not included in --type. Add --type ${typeName} or drop the filter.`,
      );
    }
    const list = filters[type]!;
    const params = value.slice(at + 1);
    if (!list.includes(params)) list.push(params);
  }
  if (options.defaultFilters && filters["Observation"]?.length === 0) {
    filters["Observation"] = [defaultObservationFilter(options.isEpic)];
  }
  for (const list of Object.values(filters)) list.sort();
  return filters;
}

/**
 * The `_typeFilter` value: every `Type?params`, sorted, joined by commas. A comma inside one
 * filter (an OR list of values) is escaped as `%2C` so the server does not split the filter there
 * (accepted by Epic, HAPI and Kodjin).
 */
export function typeFilterParam(
  filters: TypeFilters,
  types: readonly string[],
): string | undefined {
  const all: string[] = [];
  for (const type of types) {
    for (const params of filters[type] ?? []) {
      all.push(`${type}?${params.replaceAll(",", "%2C")}`);
    }
  }
  all.sort();
  return all.length ? all.join(",") : undefined;
}

/** Describes filters for a message: `Condition (no filter)` / `Condition?code=1234`. */
export function describeFilters(filters: TypeFilters): string {
  const lines: string[] = [];
  for (const type of Object.keys(filters).sort()) {
    const list = filters[type]!;
    if (list.length === 0) lines.push(`  ${type} (no filter)`);
    for (const params of list) lines.push(`  ${type}?${params}`);
  }
  return lines.join("\n");
}

/**
 * The search parameter that selects resources created after a time ("created" since mode), per
 * type. Only used when the server's CapabilityStatement declares it; Observation `issued` is not
 * standard but Epic allows it.
 */
export const CREATED_SINCE_PARAMS: Readonly<Record<string, string>> = {
  AllergyIntolerance: "date",
  Condition: "recorded-date",
  DiagnosticReport: "issued",
  DocumentReference: "date",
  MedicationRequest: "authoredon",
  Observation: "issued",
  ServiceRequest: "authored",
};

/**
 * Adds created-mode since parameters to the filters: every filter of a type with a usable created
 * param gets `&param=gt<since>`; an unfiltered such type gets `param=gt<since>` alone.
 * Returns the new filters and the types that got a since filter.
 */
export function addCreatedSince(
  filters: TypeFilters,
  since: string,
  usable: (type: string, param: string) => boolean,
): { filters: TypeFilters; sinceTypes: string[] } {
  const out: TypeFilters = {};
  const sinceTypes: string[] = [];
  for (const [type, list] of Object.entries(filters)) {
    const param = CREATED_SINCE_PARAMS[type];
    if (!param || !usable(type, param)) {
      out[type] = [...list];
      continue;
    }
    const clause = `${param}=gt${since}`;
    out[type] = list.length ? list.map((p) => `${p}&${clause}`) : [clause];
    sinceTypes.push(type);
  }
  return { filters: out, sinceTypes: sinceTypes.sort() };
}
