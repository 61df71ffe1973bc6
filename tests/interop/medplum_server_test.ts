/**
 * The Medplum interop server answers the searches our crawler will send, with Medplum's own
 * matching and paging, over the data our generator makes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MRN_SYSTEM } from "../fake_server/data/patient.ts";
import type { Resource } from "../fake_server/types.ts";
import { SEARCHABLE_TYPES } from "./medplum_definitions.ts";
import { type MedplumServer, startMedplumServer } from "./medplum_server.ts";

interface Bundle {
  resourceType: string;
  type?: string;
  total?: number;
  link?: { relation: string; url: string }[];
  entry?: { fullUrl?: string; resource: Resource }[];
}

async function getJson(url: string): Promise<{ status: number; type: string; body: Bundle }> {
  const res = await fetch(url);
  const body = await res.json() as Bundle;
  return { status: res.status, type: res.headers.get("content-type") ?? "", body };
}

/** Follows `next` links from `url` to the last page; returns every entry's resource and the pages. */
async function searchAll(url: string): Promise<{ resources: Resource[]; pages: string[] }> {
  const resources: Resource[] = [];
  const pages: string[] = [];
  let next: string | undefined = url;
  while (next !== undefined) {
    assert.ok(pages.length < 50, `too many pages from ${url}`);
    pages.push(next);
    const { status, body } = await getJson(next);
    assert.equal(status, 200, `${next}: ${JSON.stringify(body)}`);
    assert.equal(body.resourceType, "Bundle");
    assert.equal(body.type, "searchset");
    for (const entry of body.entry ?? []) resources.push(entry.resource);
    const link = body.link?.find((l) => l.relation === "next")?.url;
    next = link === undefined ? undefined : new URL(link, next).href;
  }
  return { resources, pages };
}

function idsOf(resources: Resource[]): string[] {
  return resources.map((r) => r.id).sort();
}

function belongsTo(resource: Resource, pid: string): boolean {
  const refs = [resource.subject, resource.patient] as ({ reference?: string } | undefined)[];
  return refs.some((ref) => ref?.reference === `Patient/${pid}`);
}

Deno.test("Medplum interop server", async (t) => {
  const started = performance.now();
  await using server: MedplumServer = await startMedplumServer({ patients: 12 });
  const startupMs = performance.now() - started;
  console.log(
    `medplum interop server up in ${startupMs.toFixed(0)} ms ` +
      `(definitions ${server.startup.definitionsMs.toFixed(0)} ms, ` +
      `data ${server.startup.dataMs.toFixed(0)} ms)`,
  );
  assert.deepEqual(server.rejected, []);
  const base = server.baseUrl;

  await t.step("metadata lists the types with patient, _lastUpdated and identifier", async () => {
    const { status, type, body } = await getJson(`${base}/metadata`);
    assert.equal(status, 200);
    assert.match(type, /^application\/fhir\+json/);
    const cs = body as unknown as {
      resourceType: string;
      software: { name: string };
      rest: { resource: { type: string; searchParam?: { name: string }[] }[] }[];
    };
    assert.equal(cs.resourceType, "CapabilityStatement");
    assert.equal(cs.software.name, "Medplum");
    for (const typeName of SEARCHABLE_TYPES) {
      const entry = cs.rest[0]!.resource.find((r) => r.type === typeName);
      assert.ok(entry, typeName);
      const names = new Set(entry.searchParam?.map((p) => p.name));
      const wanted = typeName === "Patient"
        ? ["_id", "_lastUpdated", "identifier"]
        : ["_lastUpdated", "identifier", "patient"];
      for (const name of wanted) assert.ok(names.has(name), `${typeName} ${name}`);
    }
  });

  await t.step("Observation?patient= pages through next links to every one", async () => {
    for (const pid of ["pat-0001", "pat-0004", "pat-0012"]) {
      const expected = server.resources("Observation").filter((r) => belongsTo(r, pid));
      assert.ok(expected.length >= 5);
      const { resources, pages } = await searchAll(`${base}/Observation?patient=${pid}&_count=2`);
      assert.deepEqual(idsOf(resources), idsOf(expected));
      assert.equal(pages.length, Math.ceil(expected.length / 2));
      assert.equal(new Set(resources.map((r) => r.id)).size, resources.length, "no repeats");
    }
    // The default page size is Medplum's 20; all 12 patients' Observations need several pages.
    const all = await searchAll(`${base}/Observation`);
    assert.deepEqual(idsOf(all.resources), idsOf(server.resources("Observation")));
    assert.ok(all.pages.length > 1);
  });

  await t.step("every searchable type answers patient=", async () => {
    for (const typeName of SEARCHABLE_TYPES.filter((t) => t !== "Patient")) {
      const expected = server.resources(typeName).filter((r) => belongsTo(r, "pat-0002"));
      const { resources } = await searchAll(`${base}/${typeName}?patient=Patient/pat-0002`);
      assert.deepEqual(idsOf(resources), idsOf(expected), typeName);
    }
  });

  await t.step("Patient?identifier=system|value finds the patient", async () => {
    assert.equal(MRN_SYSTEM, "urn:oid:1.2.3.4");
    const token = `${MRN_SYSTEM}|MRN0001`;
    for (const query of [token, encodeURIComponent(token)]) {
      const { resources } = await searchAll(`${base}/Patient?identifier=${query}`);
      assert.deepEqual(idsOf(resources), ["pat-0001"], query);
    }
    const none = await searchAll(`${base}/Patient?identifier=${MRN_SYSTEM}|MRN9999`);
    assert.deepEqual(none.resources, []);
  });

  await t.step("Condition?patient=&_lastUpdated=gt filters on meta.lastUpdated", async () => {
    const since = "2021-01-01T00:00:00Z";
    // pat-0002 has Conditions on both sides of the cut-off.
    const mine = server.resources("Condition").filter((r) => belongsTo(r, "pat-0002"));
    const expected = mine.filter((r) => Date.parse(r.meta!.lastUpdated!) > Date.parse(since));
    assert.ok(expected.length > 0 && expected.length < mine.length);
    const url = `${base}/Condition?patient=pat-0002&_lastUpdated=gt${since}`;
    assert.deepEqual(idsOf((await searchAll(url)).resources), idsOf(expected));
    const later = `${base}/Condition?patient=pat-0002&_lastUpdated=gt2030-01-01T00:00:00Z`;
    assert.deepEqual((await searchAll(later)).resources, []);
  });

  await t.step("read keeps our id and lastUpdated", async () => {
    const { status, type, body } = await getJson(`${base}/Patient/pat-0001`);
    assert.equal(status, 200);
    assert.match(type, /^application\/fhir\+json/);
    const stored = server.resources("Patient").find((r) => r.id === "pat-0001");
    assert.deepEqual(body, stored);
    assert.equal((await getJson(`${base}/Patient/pat-9999`)).status, 404);
    assert.equal((await getJson(`${base}/Binary/bin-0001-d11`)).body.resourceType, "Binary");
  });

  await t.step("links are absolute, Medplum-style, and errors are OperationOutcomes", async () => {
    const { body } = await getJson(`${base}/Encounter?patient=pat-0001&_count=1`);
    const next = body.link?.find((l) => l.relation === "next")?.url;
    assert.equal(next, `${base}/Encounter?_count=1&_offset=1&patient=pat-0001`);
    assert.equal(body.total, undefined, "no total unless asked for");
    const counted = await getJson(`${base}/Encounter?patient=pat-0001&_summary=count`);
    assert.equal(
      counted.body.total,
      server.resources("Encounter").filter((r) => belongsTo(r, "pat-0001")).length,
    );
    const unknown = await getJson(`${base}/Observation?no-such-param=1`);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.resourceType, "OperationOutcome");
    assert.equal((await getJson(`${base}/Observation?date=yesterday`)).status, 400);
  });
});
