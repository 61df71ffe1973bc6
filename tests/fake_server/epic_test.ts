/** Epic's crawl quirks: EpisodeOfCare needs `type`, no `_lastUpdated`, warning outcomes in Bundles. */

import assert from "node:assert/strict";
import { crawlPages, matchIds, searchPage } from "./crawl_helpers.ts";
import { FakeFhirServer } from "./mod.ts";

Deno.test("Epic: EpisodeOfCare without type and _lastUpdated answer 400; headers are logged", async () => {
  await using server = await FakeFhirServer.start({ patients: 3, software: { name: "Epic" } });
  const headers = { "Epic-Client-ID": "client-123", accept: "application/fhir+json" };
  const episodes = await fetch(`${server.baseUrl}/EpisodeOfCare?patient=pat-0001`, { headers });
  assert.equal(episodes.status, 400);
  const outcome = await episodes.json();
  assert.equal(outcome.resourceType, "OperationOutcome");
  assert.match(outcome.issue[0].diagnostics, /type/);

  const since = await fetch(
    `${server.baseUrl}/Condition?patient=pat-0001&_lastUpdated=gt2021-01-01T00:00:00%2B00:00`,
    { headers },
  );
  assert.equal(since.status, 400);
  assert.match((await since.json()).issue[0].diagnostics, /_lastUpdated/);
  const cap = await (await fetch(`${server.baseUrl}/metadata`)).json();
  for (const resource of cap.rest[0].resource) {
    assert.ok(!resource.searchParam.some((p: { name: string }) => p.name === "_lastUpdated"));
  }
  // The created-date parameters a `--since created` crawl uses are there.
  assert.equal(
    (await searchPage(server, "Condition?patient=pat-0001&recorded-date=gt2021-01-01")).type,
    "searchset",
  );

  const logged = server.requests.filter((r) => r.kind === "search");
  assert.equal(logged.length, 3);
  assert.ok(logged.slice(0, 2).every((r) => r.headers["epic-client-id"] === "client-123"));
  assert.deepEqual(logged.map((r) => r.status), [400, 400, 200]);
});

Deno.test("searchOutcomes: a warning OperationOutcome entry on every search's first page only", async () => {
  await using server = await FakeFhirServer.start({
    patients: 3,
    software: { name: "Epic" },
    searchOutcomes: "warning",
    heavyPatients: { count: 1, observations: 30 },
  });
  const pages = await crawlPages(server, "Observation?patient=pat-0001");
  assert.ok(pages.length >= 2);
  const outcomes = (page: (typeof pages)[number]) =>
    page.entry.filter((e) => e.search?.mode === "outcome");
  const [first] = outcomes(pages[0]!);
  assert.ok(first);
  assert.equal(first.resource.resourceType, "OperationOutcome");
  assert.equal(first.fullUrl, undefined);
  const issue = (first.resource.issue as Record<string, unknown>[])[0]!;
  assert.equal(issue.severity, "warning");
  assert.match(String(issue.diagnostics), /Some results may be filtered/);
  assert.equal((issue.details as { coding: { code: string }[] }).coding[0]!.code, "4119");
  for (const page of pages.slice(1)) assert.deepEqual(outcomes(page), []);
  // Matches are paged as usual and `total` counts only them.
  const ids = matchIds(pages);
  assert.equal(pages[0]!.entry.filter((e) => e.search?.mode === "match").length, 20);
  assert.equal(pages[0]!.total, ids.length);
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(ids.every((id) => id.startsWith("obs-0001-")));

  // Empty results and Patient searches get it too.
  const none = await searchPage(
    server,
    "Observation?patient=pat-0002&code=http://loinc.org|0000-0",
  );
  assert.equal(none.total, 0);
  assert.deepEqual(none.entry.map((e) => e.search?.mode), ["outcome"]);
  const patients = await searchPage(server, "Patient?identifier=urn:oid:1.2.3.4|MRN0002");
  assert.deepEqual(patients.entry.map((e) => e.search?.mode), ["match", "outcome"]);

  await using plain = await FakeFhirServer.start({ patients: 3 });
  const quiet = await searchPage(plain, "Observation?patient=pat-0001");
  assert.ok(quiet.entry.every((e) => e.search?.mode === "match"));
});
