/**
 * Resources shared by every patient: Organizations, Locations, Practitioners, PractitionerRoles
 * and Medications (the targets of reference hydration).
 *
 * @module
 */

import { DATA_START, FAMILY_NAMES, GIVEN_NAMES, MEDICATIONS } from "../codes.ts";
import type { Random } from "../prng.ts";
import { concept, meta, pad, ref, type Sink } from "./common.ts";

/** Ids of the shared resources, for patients' references. */
export interface SharedIds {
  organizations: string[];
  locations: string[];
  practitioners: string[];
  roles: string[];
  medications: string[];
}

const ORGANIZATIONS = ["General Hospital", "Northside Clinic", "Riverside Laboratory"];
const LOCATIONS = ["Main Campus", "Ward 4B", "Emergency Department", "Radiology", "Pharmacy"];

/** Generates the shared resources and returns their ids. */
export function generateShared(rng: Random, add: Sink): SharedIds {
  const early = DATA_START;
  const organizations = ORGANIZATIONS.map((name, i) => {
    const id = `org-${pad(i + 1, 3)}`;
    add({
      resourceType: "Organization",
      id,
      meta: meta(rng, early),
      active: true,
      name,
      ...(i > 0 ? { partOf: ref("Organization", "org-001") } : {}),
    });
    return id;
  });
  const locations = LOCATIONS.map((name, i) => {
    const id = `loc-${pad(i + 1, 3)}`;
    add({
      resourceType: "Location",
      id,
      meta: meta(rng, early),
      status: "active",
      name,
      managingOrganization: ref("Organization", organizations[i % organizations.length]!),
      ...(i > 0 ? { partOf: ref("Location", "loc-001") } : {}),
    });
    return id;
  });
  const practitioners: string[] = [];
  const roles: string[] = [];
  for (let i = 1; i <= 10; i++) {
    const id = `prac-${pad(i, 3)}`;
    practitioners.push(id);
    add({
      resourceType: "Practitioner",
      id,
      meta: meta(rng, early),
      identifier: [{ system: "http://hl7.org/fhir/sid/us-npi", value: `19${pad(i * 7919, 8)}` }],
      active: true,
      name: [{ family: rng.pick(FAMILY_NAMES), given: [rng.pick(GIVEN_NAMES)], prefix: ["Dr."] }],
      qualification: [{
        code: { text: "MD" },
        issuer: ref("Organization", organizations[0]!),
      }],
    });
    const roleId = `role-${pad(i, 3)}`;
    roles.push(roleId);
    add({
      resourceType: "PractitionerRole",
      id: roleId,
      meta: meta(rng, early),
      active: true,
      practitioner: ref("Practitioner", id),
      organization: ref("Organization", organizations[i % organizations.length]!),
      location: [ref("Location", locations[i % locations.length]!)],
      code: [{ text: i % 3 === 0 ? "Nurse" : "Physician" }],
    });
  }
  const medications = MEDICATIONS.map((code, i) => {
    const id = `med-${pad(i + 1, 3)}`;
    add({
      resourceType: "Medication",
      id,
      meta: meta(rng, early),
      code: concept(code),
      status: "active",
    });
    return id;
  });
  return { organizations, locations, practitioners, roles, medications };
}
