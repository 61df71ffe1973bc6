/**
 * SMART Fetch's hydration tasks: which resources a folder's data only references (Medication,
 * Practitioner, Location, ...) and which reference fields lead to them, grouped as its task
 * groups (`--tasks practitioner`). A field path walks objects and arrays alike:
 * `performer.actor` reads `performer[].actor`.
 */

/** A task that downloads the resources some fields reference. */
export interface ReferenceTask {
  kind: "reference";
  name: string;
  input: string;
  /** Output types it follows (a reference `Type/id` of another type is ignored). */
  outputs: readonly string[];
  fields: readonly string[];
  /** Output file slug: `<Type>.<slug>.ndjson.gz`. */
  slug: string;
  /** The output type is also the input (partOf, hasMember): follow what was downloaded too. */
  recursive?: boolean;
}

/** A task that searches PractitionerRole by practitioner. */
export interface SearchTask {
  kind: "search";
  name: string;
  input: "Practitioner";
  outputs: readonly ["PractitionerRole"];
  slug: "searched";
}

/** A task that inlines attachments in place. */
export interface InlineTask {
  kind: "inline";
  name: string;
  input: "DocumentReference" | "DiagnosticReport";
  outputs: readonly [];
}

/** Any hydration task. */
export type HydrationTask = ReferenceTask | SearchTask | InlineTask;

const ref = (
  name: string,
  input: string,
  outputs: readonly string[],
  fields: readonly string[],
  slug = "referenced",
  recursive = false,
): ReferenceTask => ({
  kind: "reference",
  name,
  input,
  outputs,
  fields,
  slug,
  ...(recursive ? { recursive } : {}),
});

const PRACT = ["Practitioner", "PractitionerRole"] as const;

/** Reference fields to Practitioner / PractitionerRole, per input type. */
const PRACTITIONER_FIELDS: Readonly<Record<string, readonly string[]>> = {
  AllergyIntolerance: ["recorder", "asserter"],
  Condition: ["recorder", "asserter"],
  DiagnosticReport: ["performer", "resultsInterpreter"],
  DocumentReference: ["subject", "author", "authenticator"],
  Encounter: ["participant.individual"],
  EpisodeOfCare: ["careManager"],
  Immunization: ["performer.actor"],
  MedicationDispense: ["performer.actor", "receiver", "substitution.responsibleParty"],
  MedicationRequest: ["reportedReference", "requester", "performer", "recorder"],
  Observation: ["performer"],
  Patient: ["generalPractitioner"],
  Procedure: ["recorder", "asserter", "performer.actor"],
  ServiceRequest: ["requester", "performer"],
};

const LOCATION_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Device: ["location"],
  DiagnosticReport: ["subject"],
  Encounter: ["hospitalization.origin", "hospitalization.destination", "location.location"],
  Immunization: ["location"],
  MedicationDispense: ["location", "destination"],
  Observation: ["subject"],
  PractitionerRole: ["location"],
  Procedure: ["location"],
  ServiceRequest: ["subject", "locationReference"],
};

const ORGANIZATION_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Device: ["owner"],
  DiagnosticReport: ["performer", "resultsInterpreter"],
  DocumentReference: ["author", "authenticator", "custodian"],
  Encounter: ["hospitalization.origin", "hospitalization.destination", "serviceProvider"],
  EpisodeOfCare: ["managingOrganization"],
  Immunization: ["manufacturer", "performer.actor", "protocolApplied.authority"],
  Location: ["managingOrganization"],
  MedicationDispense: ["performer.actor"],
  MedicationRequest: ["reportedReference", "requester", "performer", "dispenseRequest.performer"],
  Observation: ["performer"],
  Patient: ["contact.organization", "generalPractitioner", "managingOrganization"],
  Practitioner: ["qualification.issuer"],
  PractitionerRole: ["organization"],
  Procedure: ["performer.actor", "performer.onBehalfOf"],
  ServiceRequest: ["requester", "performer"],
};

/** The task groups, in SMART Fetch's order, with their tasks in order. */
export const TASK_GROUPS: ReadonlyMap<string, readonly HydrationTask[]> = new Map<
  string,
  HydrationTask[]
>([
  ["episodeofcare", [
    ref("docref-epofcare", "DocumentReference", ["EpisodeOfCare"], ["context.encounter"]),
    ref("enc-epofcare", "Encounter", ["EpisodeOfCare"], ["episodeOfCare"]),
    ref("meddisp-epofcare", "MedicationDispense", ["EpisodeOfCare"], ["context"]),
  ]],
  ["inline", [
    { kind: "inline", name: "doc-inline", input: "DocumentReference", outputs: [] },
    { kind: "inline", name: "dxr-inline", input: "DiagnosticReport", outputs: [] },
  ]],
  ["medication", [
    ref("meddisp-med", "MedicationDispense", ["Medication"], ["medicationReference"]),
    ref("medreq-med", "MedicationRequest", ["Medication"], ["medicationReference"]),
  ]],
  ["observation", [
    ref("dxr-results", "DiagnosticReport", ["Observation"], ["result"], "results"),
    ref("obs-members", "Observation", ["Observation"], ["hasMember"], "members", true),
  ]],
  ["practitioner", [
    ...Object.entries(PRACTITIONER_FIELDS).map(([input, fields]) =>
      ref(`${input.toLowerCase()}-pract`, input, PRACT, fields)
    ),
    ref("practrole-pract", "PractitionerRole", ["Practitioner"], ["practitioner"]),
    {
      kind: "search",
      name: "pract-practrole",
      input: "Practitioner",
      outputs: ["PractitionerRole"],
      slug: "searched",
    },
  ]],
  ["location", [
    ...Object.entries(LOCATION_FIELDS).map(([input, fields]) =>
      ref(`${input.toLowerCase()}-loc`, input, ["Location"], fields)
    ),
    ref("loc-loc", "Location", ["Location"], ["partOf"], "referenced", true),
  ]],
  ["organization", [
    ...Object.entries(ORGANIZATION_FIELDS).map(([input, fields]) =>
      ref(`${input.toLowerCase()}-org`, input, ["Organization"], fields)
    ),
    ref("org-org", "Organization", ["Organization"], ["partOf"], "referenced", true),
  ]],
]);

/** The group names, `all` and `none` aside. */
export const GROUP_NAMES: readonly string[] = [...TASK_GROUPS.keys()];

/** The `Type/id` references at `path` of a resource (relative ones only, any type). */
export function referencesAt(resource: Record<string, unknown>, path: string): string[] {
  let values: unknown[] = [resource];
  for (const key of path.split(".")) {
    const next: unknown[] = [];
    for (const v of values) {
      const got = v && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;
      if (Array.isArray(got)) next.push(...got);
      else if (got !== undefined) next.push(got);
    }
    values = next;
  }
  const out: string[] = [];
  for (const v of values) {
    const r = v && typeof v === "object" ? (v as { reference?: unknown }).reference : undefined;
    // Only relative `Type/id`: absolute URLs, contained `#refs` and versioned forms are not ours.
    if (typeof r === "string" && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(r)) out.push(r);
  }
  return out;
}
