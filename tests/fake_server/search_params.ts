/**
 * Search parameters per resource type: which exist (listed in the CapabilityStatement), how to
 * read their values from a resource, and how to match a query. Used by searches and by bulk
 * `_typeFilter` alike, so both reject the same unknown parameters.
 *
 * @module
 */

import { matchDate } from "./search_dates.ts";
import { SearchError } from "./search_error.ts";
import type { Resource } from "./types.ts";

/** A search parameter type, as the CapabilityStatement names it. */
export type ParamType = "token" | "date" | "reference";

/** A token as found in a resource: a coding, an identifier, a code or an id. */
interface Token {
  system?: string | undefined;
  code: string;
}

interface ParamDef {
  type: ParamType;
  /** Tokens, date strings or "Type/id" references found in the resource. */
  values: (resource: Resource) => (Token | string)[];
}

/** Options that change which parameters exist and how they match. */
export interface SearchOptions {
  /** Whether `_lastUpdated` is supported. */
  lastUpdated: boolean;
  /**
   * Whether commas in an `identifier` value separate OR-ed values; false takes the whole value
   * as one identifier, as a server that ignores the OR does. @default true
   */
  identifierOr?: boolean;
}

/** A compiled query: true when the resource matches every parameter. */
export type Predicate = (resource: Resource) => boolean;

function get(resource: Resource, path: string): unknown {
  let value: unknown = resource;
  for (const key of path.split(".")) {
    value = Array.isArray(value)
      ? value.map((v) => (v as Record<string, unknown>)?.[key])
      : (value as Record<string, unknown> | undefined)?.[key];
  }
  return value;
}

function list(value: unknown): unknown[] {
  return (Array.isArray(value) ? value.flat() : [value]).filter((v) => v !== undefined);
}

const codings = (path: string) => (r: Resource): Token[] =>
  list(get(r, path)).flatMap((concept) =>
    list((concept as { coding?: unknown }).coding ?? concept).map((c) => {
      const coding = c as { system?: string; code?: string };
      return { system: coding.system, code: coding.code ?? "" };
    })
  );
const code = (path: string) => (r: Resource): Token[] =>
  list(get(r, path)).map((c) => ({ code: String(c) }));
const date = (path: string) => (r: Resource): string[] => list(get(r, path)).map(String);
const refs = (path: string) => (r: Resource): string[] =>
  list(get(r, path)).map((v) => String((v as { reference?: string }).reference ?? ""));

const token = (values: ParamDef["values"]): ParamDef => ({ type: "token", values });
const dated = (path: string): ParamDef => ({ type: "date", values: date(path) });
const reference = (path: string): ParamDef => ({ type: "reference", values: refs(path) });

const COMMON: Record<string, ParamDef> = {
  _id: token((r) => [{ code: r.id }]),
  _lastUpdated: dated("meta.lastUpdated"),
  identifier: token((r) =>
    list(r.identifier).map((i) => {
      const id = i as { system?: string; value?: string };
      return { system: id.system, code: id.value ?? "" };
    })
  ),
};

const SUBJECT = { patient: reference("subject"), subject: reference("subject") };
const PATIENT = { patient: reference("patient") };
const STATUS = { status: token(code("status")) };

const PARAMS: Record<string, Record<string, ParamDef>> = {
  Patient: { gender: token(code("gender")), birthdate: dated("birthDate") },
  Encounter: { ...SUBJECT, ...STATUS, date: dated("period.start"), class: token(codings("class")) },
  Condition: {
    ...SUBJECT,
    "recorded-date": dated("recordedDate"),
    "onset-date": dated("onsetDateTime"),
    code: token(codings("code")),
    category: token(codings("category")),
    "clinical-status": token(codings("clinicalStatus")),
    encounter: reference("encounter"),
  },
  Observation: {
    ...SUBJECT,
    ...STATUS,
    category: token(codings("category")),
    code: token(codings("code")),
    date: dated("effectiveDateTime"),
    issued: dated("issued"),
    encounter: reference("encounter"),
  },
  DocumentReference: {
    ...SUBJECT,
    ...STATUS,
    date: dated("date"),
    type: token(codings("type")),
    category: token(codings("category")),
    encounter: reference("context.encounter"),
  },
  DiagnosticReport: {
    ...SUBJECT,
    ...STATUS,
    issued: dated("issued"),
    date: dated("effectiveDateTime"),
    code: token(codings("code")),
    category: token(codings("category")),
    encounter: reference("encounter"),
  },
  MedicationRequest: {
    ...SUBJECT,
    ...STATUS,
    authoredon: dated("authoredOn"),
    intent: token(code("intent")),
    medication: reference("medicationReference"),
    encounter: reference("encounter"),
  },
  MedicationDispense: {
    ...SUBJECT,
    ...STATUS,
    whenhandedover: dated("whenHandedOver"),
    medication: reference("medicationReference"),
  },
  Procedure: {
    ...SUBJECT,
    ...STATUS,
    date: dated("performedDateTime"),
    code: token(codings("code")),
  },
  Immunization: {
    ...PATIENT,
    ...STATUS,
    date: dated("occurrenceDateTime"),
    "vaccine-code": token(codings("vaccineCode")),
  },
  AllergyIntolerance: {
    ...PATIENT,
    date: dated("recordedDate"),
    code: token(codings("code")),
    "clinical-status": token(codings("clinicalStatus")),
  },
  Device: { ...PATIENT, ...STATUS, type: token(codings("type")) },
  ServiceRequest: {
    ...SUBJECT,
    ...STATUS,
    authored: dated("authoredOn"),
    code: token(codings("code")),
    encounter: reference("encounter"),
  },
  EpisodeOfCare: {
    ...PATIENT,
    ...STATUS,
    type: token(codings("type")),
    date: dated("period.start"),
  },
  PractitionerRole: {
    practitioner: reference("practitioner"),
    organization: reference("organization"),
    location: reference("location"),
  },
  Location: { organization: reference("managingOrganization") },
  Medication: { code: token(codings("code")) },
  Group: {},
};

function paramsOf(type: string, options: SearchOptions): Record<string, ParamDef> {
  const params: Record<string, ParamDef> = { ...COMMON, ...PARAMS[type] };
  if (!options.lastUpdated) delete params._lastUpdated;
  return params;
}

/** Splits a raw query into decoded pairs; "+" stays "+" (a zone offset, not a space). */
export function decodeQuery(query: string): [string, string][] {
  if (query === "") return [];
  return query.split("&").filter((p) => p !== "").map((pair) => {
    const eq = pair.indexOf("=");
    const name = eq >= 0 ? pair.slice(0, eq) : pair;
    const value = eq >= 0 ? pair.slice(eq + 1) : "";
    try {
      return [decodeURIComponent(name), decodeURIComponent(value)];
    } catch {
      throw new SearchError(`Malformed percent-encoding in "${pair}"`, name);
    }
  });
}

/** The search parameters a type supports, for the CapabilityStatement. */
export function searchParamsFor(
  type: string,
  options: SearchOptions,
): { name: string; type: ParamType }[] {
  return Object.entries(paramsOf(type, options)).map(([name, def]) => ({ name, type: def.type }));
}

function matchToken(values: Token[], query: string, or = true): boolean {
  return (or ? query.split(",") : [query]).some((piece) => {
    const bar = piece.indexOf("|");
    const system = bar >= 0 ? piece.slice(0, bar) : undefined;
    const wanted = bar >= 0 ? piece.slice(bar + 1) : piece;
    return values.some((v) =>
      (system === undefined || (system === "" ? v.system === undefined : v.system === system)) &&
      (wanted === "" || v.code === wanted)
    );
  });
}

function matchReference(values: string[], query: string, param: string): boolean {
  return query.split(",").some((piece) => {
    const parts = piece.split("/").filter((p) => p !== "");
    const wanted = parts.length >= 2 ? parts.slice(-2).join("/") : parts[0] ?? "";
    return values.some((v) =>
      wanted.includes("/")
        ? v === wanted
        : v.endsWith(`/${wanted}`) && (param !== "patient" || v.startsWith("Patient/"))
    );
  });
}

/**
 * Compiles search parameters (already percent-decoded name/value pairs) into a predicate.
 * Throws SearchError naming the first unknown parameter or bad value.
 */
export function compileQuery(
  type: string,
  params: [string, string][],
  options: SearchOptions,
): Predicate {
  const defs = paramsOf(type, options);
  const tests = params.map(([name, value]): Predicate => {
    if (name.includes(":")) {
      throw new SearchError(`Search parameter modifier "${name}" is not supported`, name);
    }
    const def = Object.hasOwn(defs, name) ? defs[name] : undefined;
    if (!def) {
      throw new SearchError(`Unknown search parameter "${name}" for resource type ${type}`, name);
    }
    if (def.type === "token") {
      const or = name !== "identifier" || options.identifierOr !== false;
      return (r) => matchToken(def.values(r) as Token[], value, or);
    }
    if (def.type === "reference") {
      return (r) => matchReference(def.values(r) as string[], value, name);
    }
    const test = matchDate(value, name);
    return (r) => (def.values(r) as string[]).some(test);
  });
  return (resource) => tests.every((test) => test(resource));
}
