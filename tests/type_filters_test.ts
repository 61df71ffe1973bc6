import assert from "node:assert/strict";
import { kickoffBody, kickoffQuery } from "../src/bulk/kickoff.ts";
import { UsageError } from "../src/errors.ts";
import { resolveTypeNames } from "../src/fhir/resource_types.ts";
import { sinceInstant } from "../src/fhir/since.ts";
import {
  addCreatedSince,
  buildTypeFilters,
  defaultObservationFilter,
} from "../src/fhir/type_filters.ts";

Deno.test("types are case-insensitive, comma lists, 'all', kept in processing order", () => {
  assert.deepEqual(resolveTypeNames(["condition,PATIENT", "Observation"]), {
    types: ["Patient", "Condition", "Observation"],
    unknown: [],
  });
  assert.equal(resolveTypeNames(["all"]).types.length, 14);
  assert.deepEqual(resolveTypeNames(["Patient,Nope"]).unknown, ["Nope"]);
});

Deno.test("the default Observation filter applies unless an Observation filter or --no-default-filters", () => {
  const types = ["Patient", "Observation"];
  const withDefault = buildTypeFilters(types, [], { defaultFilters: true, isEpic: false });
  assert.deepEqual(withDefault, {
    Patient: [],
    Observation: [
      "category=social-history,vital-signs,imaging,laboratory,survey,exam,procedure,therapy,activity",
    ],
  });
  assert.equal(
    buildTypeFilters(types, [], { defaultFilters: true, isEpic: true }).Observation![0],
    "category=social-history,vital-signs,imaging,laboratory,survey,exam",
  );
  assert.deepEqual(
    buildTypeFilters(types, [], { defaultFilters: false, isEpic: false }).Observation,
    [],
  );
  assert.deepEqual(
    buildTypeFilters(types, ["observation?code=1", "Observation?category=laboratory"], {
      defaultFilters: true,
      isEpic: false,
    }).Observation,
    ["category=laboratory", "code=1"],
  );
  assert.match(defaultObservationFilter(false), /^category=/);
});

Deno.test("bad type filters are usage errors naming the value", () => {
  assert.throws(
    () => buildTypeFilters(["Patient"], ["Patient"], { defaultFilters: true, isEpic: false }),
    (e: Error) =>
      e instanceof UsageError && /"Patient"/.test(e.message) && /Resource\?params/.test(e.message),
  );
  assert.throws(
    () =>
      buildTypeFilters(["Patient"], ["Condition?code=1"], { defaultFilters: true, isEpic: false }),
    (e: Error) =>
      e instanceof UsageError &&
      /Condition but that type is not included in --type/.test(e.message),
  );
});

Deno.test("kick-off query: _type and _typeFilter once each, sorted, commas in a filter escaped", () => {
  const query = kickoffQuery({
    level: { kind: "system" },
    types: ["Patient", "Condition", "Observation"],
    typeFilters: ["Observation?category=laboratory,vital-signs", "Condition?code=a"],
    since: "2024-01-01T00:00:00Z",
  });
  assert.deepEqual(query, {
    _since: "2024-01-01T00:00:00Z",
    _type: "Condition,Observation,Patient",
    _typeFilter: "Condition?code=a,Observation?category=laboratory%2Cvital-signs",
  });
  // On the wire the escape itself is escaped, as SMART Fetch sends it.
  assert.match(new URLSearchParams(query).toString(), /laboratory%252Cvital-signs/);
  const body = JSON.parse(kickoffBody({
    level: { kind: "system" },
    types: ["Patient"],
    typeFilters: ["Patient?active=true", "Patient?gender=a,b"],
  }));
  assert.equal(body.resourceType, "Parameters");
  assert.deepEqual(
    body.parameter.filter((p: { name: string }) => p.name === "_typeFilter").map((
      p: { valueString: string },
    ) => p.valueString),
    ["Patient?active=true", "Patient?gender=a,b"],
  );
});

Deno.test("created since mode adds per-type date params only where the server has them", () => {
  const filters = { Condition: [], Observation: ["category=laboratory"], Encounter: [] };
  const out = addCreatedSince(filters, "2024-01-01", (type) => type !== "Encounter");
  assert.deepEqual(out.filters, {
    Condition: ["recorded-date=gt2024-01-01"],
    Observation: ["category=laboratory&issued=gt2024-01-01"],
    Encounter: [],
  });
  assert.deepEqual(out.sinceTypes, ["Condition", "Observation"]);
});

Deno.test("_since is always an instant: dates and zone-less times take their earliest instant", () => {
  assert.equal(sinceInstant("2024-01-31"), "2024-01-31T00:00:00+14:00");
  assert.equal(sinceInstant("2024"), "2024-01-01T00:00:00+14:00");
  assert.equal(sinceInstant("2024-03"), "2024-03-01T00:00:00+14:00");
  assert.equal(sinceInstant("2024-01-31T10:20"), "2024-01-31T10:20:00+14:00");
  assert.equal(sinceInstant("2024-01-31T10:20:30Z"), "2024-01-31T10:20:30Z");
  assert.equal(
    sinceInstant("2026-11-25T10:01:33.558756+00:00"),
    "2026-11-25T10:01:33.558756+00:00",
  );
});
