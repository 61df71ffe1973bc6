/** Crawl paging: heavy patients span many pages; next links keep the search and can be relative. */

import assert from "node:assert/strict";
import { DATA_END, DATA_START, OBS_CATEGORY_SYSTEM } from "./codes.ts";
import { crawlPages, matchIds, nextOf, searchPage } from "./crawl_helpers.ts";
import { GENERATED_TYPES } from "./data/generate.ts";
import { FakeFhirServer, MRN_SYSTEM } from "./mod.ts";
import type { Resource } from "./types.ts";

/** smart-fetch's default Observation categories, and Epic's (the last three dropped). */
const CATEGORIES =
  "social-history,vital-signs,imaging,laboratory,survey,exam,procedure,therapy,activity";
const EPIC_CATEGORIES = "social-history,vital-signs,imaging,laboratory,survey,exam";

const isHeavy = (r: Resource) => /^obs-\d+-h\d+$/.test(r.id);

Deno.test("heavyPatients: many pages of realistic Observations; nothing else changes", async () => {
  const options = { patients: 4, heavyPatients: { count: 2, observations: 250 } };
  await using plain = await FakeFhirServer.start({ patients: 4 });
  await using heavy = await FakeFhirServer.start(options);
  await using again = await FakeFhirServer.start(options);
  await using otherSeed = await FakeFhirServer.start({ ...options, seed: 2 });

  for (const pid of ["pat-0001", "pat-0002"]) {
    const url = `Observation?patient=${pid}&category=${CATEGORIES}`;
    const pages = await crawlPages(heavy, url);
    const before = matchIds(await crawlPages(plain, url));
    const extra = heavy.resources("Observation").filter((o) =>
      isHeavy(o) && o.id.startsWith(`obs-${pid.slice(4)}-`)
    );
    assert.equal(extra.length, 250);
    // The default _count of 20: 250 extra results alone make 13 pages.
    assert.equal(pages.length, Math.ceil((before.length + 250) / 20));
    assert.ok(pages.length >= 13);
    assert.deepEqual(matchIds(pages), [...before, ...extra.map((o) => o.id)]);
    assert.equal(pages[0]!.total, before.length + 250);
    const epic = matchIds(
      await crawlPages(heavy, `Observation?patient=${pid}&category=${EPIC_CATEGORIES}`),
    );
    assert.ok(extra.every((o) => epic.includes(o.id)), "Epic's categories keep them all");

    const encounters = new Set(
      heavy.resources("Encounter").filter((e) =>
        (e.subject as { reference: string }).reference === `Patient/${pid}`
      )
        .map((e) => `Encounter/${e.id}`),
    );
    for (const o of extra) {
      const category = (o.category as { coding: { system: string; code: string }[] }[])[0]!
        .coding[0]!;
      assert.equal(category.system, OBS_CATEGORY_SYSTEM);
      assert.ok(["laboratory", "vital-signs"].includes(category.code), category.code);
      assert.deepEqual(o.subject, { reference: `Patient/${pid}` });
      assert.ok(encounters.has((o.encounter as { reference: string }).reference));
      assert.equal(o.status === "final" || o.status === "amended", true);
      assert.match(String((o.code as { coding: { system: string }[] }).coding[0]!.system), /loinc/);
      assert.equal(typeof (o.valueQuantity as { value: unknown }).value, "number");
      const updated = Date.parse(String(o.meta?.lastUpdated));
      assert.ok(updated >= DATA_START && updated < DATA_END, String(o.meta?.lastUpdated));
      assert.ok(Date.parse(String(o.effectiveDateTime)) <= updated);
    }
  }
  // Patients past `count` get none; every other resource is exactly as without the option.
  assert.equal(heavy.resources("Observation").filter(isHeavy).length, 500);
  for (const type of GENERATED_TYPES) {
    const rest = heavy.resources(type).filter((r) => !isHeavy(r));
    assert.equal(JSON.stringify(rest), JSON.stringify(plain.resources(type)), type);
  }
  // Deterministic per seed.
  assert.equal(
    JSON.stringify(again.resources("Observation")),
    JSON.stringify(heavy.resources("Observation")),
  );
  assert.notEqual(
    JSON.stringify(otherSeed.resources("Observation").filter(isHeavy)),
    JSON.stringify(heavy.resources("Observation").filter(isHeavy)),
  );
});

Deno.test("next links keep every search parameter, percent-encoded, and give the next page", async () => {
  await using server = await FakeFhirServer.start({
    patients: 60,
    heavyPatients: { count: 1, observations: 40 },
  });
  const mrns = Array.from(
    { length: 50 },
    (_, i) => `${MRN_SYSTEM}|MRN${String(i + 1).padStart(4, "0")}`,
  );
  // As a client might send it: "|" and "," raw; and fully percent-encoded.
  for (const identifier of [mrns.join(","), encodeURIComponent(mrns.join(","))]) {
    const pages = await crawlPages(server, `Patient?identifier=${identifier}&_total=accurate`);
    assert.deepEqual(pages.map((p) => p.entry.length), [20, 20, 10]);
    const next = nextOf(pages[0]!)!;
    assert.ok(next.startsWith(`${server.baseUrl}/Patient?`), next);
    const query = new URL(next).search;
    assert.ok(query.includes(`identifier=${mrns.join(",").replaceAll("|", "%7C")}`), next);
    assert.ok(query.includes("_total=accurate"), next);
    assert.ok(query.endsWith("&_count=20&_offset=20"), next);
  }

  // A `+` zone offset, sent as %2B or raw, survives as %2B; following the chain equals one big page.
  const since = "_lastUpdated=gt2020-06-01T00:00:00";
  const whole = matchIds([
    await searchPage(server, `Observation?patient=pat-0001&${since}%2B00:00&_count=1000`),
  ]);
  assert.ok(whole.length > 30, `${whole.length}`);
  for (const plus of ["%2B", "+"]) {
    const pages = await crawlPages(
      server,
      `Observation?patient=pat-0001&${since}${plus}00:00&_count=7`,
    );
    assert.equal(pages.length, Math.ceil(whole.length / 7));
    assert.deepEqual(matchIds(pages), whole);
    for (const page of pages.slice(0, -1)) {
      assert.ok(nextOf(page)!.includes(`${since}%2B00:00&`), nextOf(page));
    }
  }
  // What the server saw: one search per page, each with the same filters.
  const searches = server.requests.filter((r) =>
    r.kind === "search" && r.query.includes("_count=7")
  );
  assert.equal(searches.length, 2 * Math.ceil(whole.length / 7));
  assert.ok(
    searches.every((r) => r.query.startsWith("patient=pat-0001&_lastUpdated=gt2020-06-01")),
  );
});

Deno.test("relativeNextLinks: next URLs are relative to the base and lead to the same pages", async () => {
  const options = { patients: 3, heavyPatients: { count: 1, observations: 45 } };
  await using absolute = await FakeFhirServer.start(options);
  await using relative = await FakeFhirServer.start({ ...options, relativeNextLinks: true });
  const url =
    `Observation?patient=pat-0001&category=${CATEGORIES}&_lastUpdated=gt2020-01-01T00:00:00%2B00:00`;
  const pages = await crawlPages(relative, url);
  assert.ok(pages.length >= 3);
  for (const page of pages.slice(0, -1)) {
    const next = nextOf(page)!;
    assert.match(next, /^Observation\?patient=pat-0001&category=social-history,vital-signs,/);
    assert.ok(
      next.includes("&_lastUpdated=gt2020-01-01T00:00:00%2B00:00&_count=20&_offset="),
      next,
    );
    assert.ok(page.link.find((l) => l.relation === "self")!.url.startsWith(relative.baseUrl));
  }
  assert.deepEqual(matchIds(pages), matchIds(await crawlPages(absolute, url)));
  assert.ok(nextOf(pages[0]!)!.startsWith("Observation?"));
  assert.ok(nextOf((await crawlPages(absolute, url))[0]!)!.startsWith(absolute.baseUrl));
  // The client resolved them against the base: the log shows the base path.
  assert.ok(relative.requests.every((r) => r.path === "/fhir/Observation"));
});
