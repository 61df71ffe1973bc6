/** Crawl cohorts: MRN batches OR-ed (or not, `identifierOr`) and MRNs shared by two patients. */

import assert from "node:assert/strict";
import { crawlPages, matchIds, searchPage } from "./crawl_helpers.ts";
import { FakeFhirServer, MRN_SYSTEM } from "./mod.ts";

const mrn = (n: number) => `MRN${String(n).padStart(4, "0")}`;
const pid = (n: number) => `pat-${String(n).padStart(4, "0")}`;
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

Deno.test("a batch of 50 MRNs ORs: exactly those 50 patients, across pages", async () => {
  await using server = await FakeFhirServer.start({ patients: 120 });
  const wanted = range(31, 80);
  const identifier = wanted.map((n) => `${MRN_SYSTEM}|${mrn(n)}`).join(",");
  const pages = await crawlPages(server, `Patient?identifier=${identifier}`);
  assert.deepEqual(pages.map((p) => p.entry.length), [20, 20, 10]);
  assert.ok(pages.every((p) => p.total === 50));
  assert.deepEqual(matchIds(pages), wanted.map(pid));
  for (const entry of pages.flatMap((p) => p.entry)) {
    const identifiers = entry.resource.identifier as { system: string; value: string }[];
    assert.equal(identifiers[0]!.system, MRN_SYSTEM);
  }
  // Unknown MRNs and another system simply match nothing.
  const mixed = await searchPage(
    server,
    `Patient?identifier=${MRN_SYSTEM}|MRN9999,urn:oid:9.9|${mrn(5)},${MRN_SYSTEM}|${mrn(7)}`,
  );
  assert.deepEqual(matchIds([mixed]), [pid(7)]);
  // Without a system, the value alone matches.
  assert.deepEqual(matchIds([await searchPage(server, `Patient?identifier=${mrn(9)},${mrn(3)}`)]), [
    pid(9),
    pid(3),
  ]);
  assert.equal(server.requests.filter((r) => r.kind === "search").length, 5);
});

Deno.test("identifierOr: false takes a comma list as one literal identifier", async () => {
  await using server = await FakeFhirServer.start({ patients: 60, identifierOr: false });
  const identifier = range(1, 50).map((n) => `${MRN_SYSTEM}|${mrn(n)}`).join(",");
  const batch = await searchPage(server, `Patient?identifier=${identifier}`);
  assert.equal(batch.total, 0);
  assert.deepEqual(batch.entry, []);
  const pair = await searchPage(server, `Patient?identifier=${mrn(1)},${mrn(2)}`);
  assert.equal(pair.total, 0);
  // One value still works, with or without the system.
  assert.deepEqual(
    matchIds([await searchPage(server, `Patient?identifier=${MRN_SYSTEM}|${mrn(7)}`)]),
    [
      pid(7),
    ],
  );
  assert.deepEqual(matchIds([await searchPage(server, `Patient?identifier=${mrn(8)}`)]), [pid(8)]);
  // Other token parameters still OR.
  const both = await searchPage(server, "Patient?_id=pat-0002,pat-0005");
  assert.deepEqual(matchIds([both]), ["pat-0002", "pat-0005"]);
});

Deno.test("duplicateMrns: an MRN matches two complete patients; the others are unchanged", async () => {
  await using plain = await FakeFhirServer.start({ patients: 6 });
  await using server = await FakeFhirServer.start({ patients: 6, duplicateMrns: [mrn(3), mrn(5)] });
  const one = await searchPage(server, `Patient?identifier=${MRN_SYSTEM}|${mrn(3)}`);
  assert.deepEqual(matchIds([one]), ["pat-0003", "pat-dup-1"]);
  assert.equal(one.total, 2);
  const batch = await searchPage(
    server,
    `Patient?identifier=${[3, 4, 5].map((n) => `${MRN_SYSTEM}|${mrn(n)}`).join(",")}`,
  );
  assert.deepEqual(matchIds([batch]), [
    "pat-0003",
    "pat-dup-1",
    "pat-0004",
    "pat-0005",
    "pat-dup-2",
  ]);

  // The extra patients are whole patients with their own ids and records.
  const dup = await (await fetch(`${server.baseUrl}/Patient/pat-dup-2`)).json();
  assert.equal(dup.id, "pat-dup-2");
  assert.deepEqual(
    (dup.identifier as { system: string; value: string }[]).map((i) => [i.system, i.value]),
    [[MRN_SYSTEM, mrn(5)]],
  );
  for (
    const type of [
      "Encounter",
      "Observation",
      "Condition",
      "DocumentReference",
      "MedicationRequest",
    ]
  ) {
    const ids = matchIds(await crawlPages(server, `${type}?patient=pat-dup-1`));
    assert.ok(ids.length > 0, type);
    assert.ok(ids.every((id) => id.includes("-dup-1-")), `${type}: ${ids}`);
  }
  const encounter = server.resources("Encounter").find((e) => e.id === "enc-dup-1-1")!;
  assert.deepEqual(encounter.subject, { reference: "Patient/pat-dup-1" });
  assert.ok(server.groupMembers("all").includes("pat-dup-1"));
  assert.ok(!server.groupMembers("even").includes("pat-dup-2"));
  assert.ok(!server.groupMembers("odd").includes("pat-dup-2"));

  // Numbered patients and their records are exactly as without the option.
  for (const type of ["Patient", "Encounter", "Observation", "Binary"]) {
    const numbered = server.resources(type).filter((r) => !r.id.includes("dup-"));
    assert.equal(JSON.stringify(numbered), JSON.stringify(plain.resources(type)), type);
  }
  assert.equal(server.resources("Patient").length, 8);
});
