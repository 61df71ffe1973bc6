/**
 * The server's current data: resources by type and id, an index by patient, Group membership
 * and a log of removals (for the manifest `deleted` array). Resources are never modified in
 * place: a change stores a new object, so an export's snapshot keeps what it saw at kick-off.
 *
 * @module
 */

import { groupResource } from "./data/generate.ts";
import type { Resource } from "./types.ts";

/** A resource removed by `mutate`, remembered for `_since` exports. */
export interface Removal {
  type: string;
  id: string;
  /** The patient whose compartment held it (the id itself for a Patient). */
  patient: string | undefined;
  /** Groups the patient belonged to when a Patient was removed. */
  groups: string[];
  /** Server clock at removal (ms). */
  at: number;
}

/** A change for {@linkcode DataStore.mutate}. */
export interface Change {
  /** Resources to create or replace (meta.lastUpdated defaults to now). */
  add?: Resource[];
  /** "Type/id" of resources to remove. */
  remove?: string[];
  /** "Type/id" of resources whose meta.lastUpdated becomes now. */
  touch?: string[];
}

const BUILT_IN_GROUP_NAMES: Record<string, string> = {
  all: "All patients",
  even: "Even-numbered patients",
  odd: "Odd-numbered patients",
};

/** The patient a resource belongs to (its compartment), from `subject` or `patient`. */
export function patientOf(resource: Resource): string | undefined {
  if (resource.resourceType === "Patient") return resource.id;
  for (const field of ["subject", "patient"]) {
    const value = resource[field] as { reference?: unknown } | undefined;
    const reference = value?.reference;
    if (typeof reference === "string" && reference.startsWith("Patient/")) {
      return reference.slice("Patient/".length);
    }
  }
  return undefined;
}

/** The `identifier` values of a resource (a list, or one Identifier on some types). */
function identifierValues(resource: Resource): string[] {
  const identifiers = resource.identifier;
  const list = Array.isArray(identifiers) ? identifiers : identifiers ? [identifiers] : [];
  return list.flatMap((i) => {
    const value = (i as { value?: unknown } | null)?.value;
    return typeof value === "string" ? [value] : [];
  });
}

/** Resources by type, with a patient index and an identifier index. */
export class DataStore {
  readonly #types = new Map<string, Map<string, Resource>>();
  readonly #byPatient = new Map<string, Map<string, Map<string, Resource>>>();
  /** type → identifier value → id → resource: MRN batches must not scan 10,000 patients. */
  readonly #byIdentifier = new Map<string, Map<string, Map<string, Resource>>>();
  readonly #removals: Removal[] = [];

  /** Holds `resources` (the generated data set); `now` is the server clock. */
  constructor(resources: Iterable<Resource>, private readonly now: () => number) {
    for (const resource of resources) this.#put(resource);
  }

  /** Types that have (or had) resources, in generation order. */
  types(): string[] {
    return [...this.#types.keys()];
  }

  /** Current resources of a type, in a stable order. Treat them as read-only. */
  resources(type: string): Resource[] {
    return [...(this.#types.get(type)?.values() ?? [])];
  }

  /** One resource, or undefined. */
  get(type: string, id: string): Resource | undefined {
    return this.#types.get(type)?.get(id);
  }

  /** Resources of a type in one patient's compartment. */
  forPatient(patient: string, type: string): Resource[] {
    return [...(this.#byPatient.get(patient)?.get(type)?.values() ?? [])];
  }

  /**
   * Resources of a type with an identifier of this value (any system), in the order they were
   * first stored.
   */
  withIdentifier(type: string, value: string): Resource[] {
    return [...(this.#byIdentifier.get(type)?.get(value)?.values() ?? [])];
  }

  /** Patient ids of a Group, or undefined when there is no such Group. */
  groupMembers(groupId: string): string[] | undefined {
    const group = this.get("Group", groupId);
    if (!group) return undefined;
    const members = (group.member ?? []) as { entity?: { reference?: string } }[];
    return members.flatMap((m) => {
      const reference = m.entity?.reference ?? "";
      return reference.startsWith("Patient/") ? [reference.slice("Patient/".length)] : [];
    });
  }

  /** Removals after a time (ms). */
  removalsSince(sinceMs: number): Removal[] {
    return this.#removals.filter((r) => r.at > sinceMs);
  }

  /** Applies adds, then touches, then removals, all at the server's current time. */
  mutate(change: Change): void {
    const now = this.now();
    const lastUpdated = new Date(now).toISOString();
    for (const resource of change.add ?? []) {
      const copy = structuredClone(resource);
      copy.meta = { ...copy.meta, lastUpdated: copy.meta?.lastUpdated ?? lastUpdated };
      const key = `${copy.resourceType}/${copy.id}`;
      const index = this.#removals.findIndex((r) => `${r.type}/${r.id}` === key);
      if (index >= 0) this.#removals.splice(index, 1);
      const isNew = !this.get(copy.resourceType, copy.id);
      this.#put(copy);
      if (copy.resourceType === "Patient" && isNew) this.#joinBuiltInGroups(copy.id, lastUpdated);
    }
    for (const key of change.touch ?? []) {
      const resource = this.#require(key);
      this.#put({ ...resource, meta: { ...resource.meta, lastUpdated } });
    }
    for (const key of change.remove ?? []) {
      const resource = this.#require(key);
      const patient = patientOf(resource);
      const groups: string[] = [];
      if (resource.resourceType === "Patient") {
        for (const group of this.resources("Group")) {
          const members = this.groupMembers(group.id) ?? [];
          if (!members.includes(resource.id)) continue;
          groups.push(group.id);
          this.#setMembers(group, members.filter((m) => m !== resource.id), lastUpdated);
        }
      }
      this.#delete(resource);
      this.#removals.push({
        type: resource.resourceType,
        id: resource.id,
        patient,
        groups,
        at: now,
      });
    }
  }

  #require(key: string): Resource {
    const [type, id] = key.split("/");
    const resource = type && id ? this.get(type, id) : undefined;
    if (!resource) throw new Error(`mutate: there is no resource "${key}"`);
    return resource;
  }

  #joinBuiltInGroups(pid: string, lastUpdated: string): void {
    const number = /^pat-(\d+)$/.exec(pid)?.[1];
    const parity = number === undefined ? undefined : Number(number) % 2 === 0 ? "even" : "odd";
    for (const groupId of ["all", parity]) {
      const group = groupId ? this.get("Group", groupId) : undefined;
      if (group) {
        this.#setMembers(group, [...(this.groupMembers(group.id) ?? []), pid], lastUpdated);
      }
    }
  }

  #setMembers(group: Resource, members: string[], lastUpdated: string): void {
    const name = typeof group.name === "string" ? group.name : BUILT_IN_GROUP_NAMES[group.id] ?? "";
    const next = { ...group, ...groupResource(group.id, name, members) };
    next.meta = { ...group.meta, lastUpdated };
    this.#put(next);
  }

  #put(resource: Resource): void {
    const type = resource.resourceType;
    const old = this.get(type, resource.id);
    // Replacing keeps the resource's position (Map.set on an existing key), so order is stable.
    if (old && patientOf(old) !== patientOf(resource)) this.#delete(old);
    let byId = this.#types.get(type);
    if (!byId) this.#types.set(type, byId = new Map());
    byId.set(resource.id, resource);
    this.#indexIdentifiers(old, resource);
    const patient = patientOf(resource);
    if (patient === undefined) return;
    let byType = this.#byPatient.get(patient);
    if (!byType) this.#byPatient.set(patient, byType = new Map());
    let ids = byType.get(type);
    if (!ids) byType.set(type, ids = new Map());
    ids.set(resource.id, resource);
  }

  /** Moves `next`'s identifiers into the index; a value it kept keeps its place. */
  #indexIdentifiers(old: Resource | undefined, next: Resource | undefined): void {
    const resource = next ?? old;
    if (!resource) return;
    const values = next ? identifierValues(next) : [];
    let byValue = this.#byIdentifier.get(resource.resourceType);
    for (const value of old ? identifierValues(old) : []) {
      if (!values.includes(value)) byValue?.get(value)?.delete(resource.id);
    }
    if (!next || values.length === 0) return;
    if (!byValue) this.#byIdentifier.set(next.resourceType, byValue = new Map());
    for (const value of values) {
      let ids = byValue.get(value);
      if (!ids) byValue.set(value, ids = new Map());
      ids.set(next.id, next);
    }
  }

  #delete(resource: Resource): void {
    this.#types.get(resource.resourceType)?.delete(resource.id);
    this.#indexIdentifiers(resource, undefined);
    const patient = patientOf(resource);
    if (patient !== undefined) {
      this.#byPatient.get(patient)?.get(resource.resourceType)?.delete(resource.id);
    }
  }
}
