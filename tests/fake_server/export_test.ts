/** Bulk export: kick-off at each level, polling, manifests, filters, `_since` and DELETE. */

import assert from "node:assert/strict";
import { FakeFhirServer } from "./mod.ts";
import {
  ASYNC_HEADERS,
  exportedOf,
  exportManifest,
  kickoff,
  manifestOf,
  ndjson,
} from "./test_helpers.ts";

Deno.test("system export by GET: 202 polling headers, files split by resourcesPerFile, gzip, DELETE", async () => {
  let clock = Date.UTC(2026, 5, 1, 12);
  await using server = await FakeFhirServer.start({ resourcesPerFile: 10, now: () => clock });
  const statusUrl = await kickoff(`${server.baseUrl}/$export`);
  assert.match(
    statusUrl,
    new RegExp(`^${server.baseUrl.replaceAll("$", "\\$")}/\\$export-status/`),
  );
  clock += 5000;
  for (const percent of [33, 67]) {
    const res = await fetch(statusUrl, { headers: { accept: "application/json" } });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get("x-progress"), `Build in progress - ${percent}% complete`);
    assert.equal(res.headers.get("retry-after"), "1");
    await res.body?.cancel();
  }
  const res = await fetch(statusUrl);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  const manifest = await res.json();
  assert.equal(manifest.transactionTime, "2026-06-01T12:00:00.000+00:00");
  assert.equal(manifest.request, `${server.baseUrl}/$export`);
  assert.equal(manifest.requiresAccessToken, false);
  assert.deepEqual(manifest.error, []);
  assert.equal(manifest.deleted, undefined);
  const types = new Set(manifest.output.map((o: { type: string }) => o.type));
  assert.ok(!types.has("Binary"));
  for (const type of ["Patient", "Practitioner", "Medication", "Observation", "Group"]) {
    assert.ok(types.has(type), type);
  }
  const observationFiles = manifest.output.filter((o: { type: string }) =>
    o.type === "Observation"
  );
  assert.ok(observationFiles.length > 3);
  const observations = await exportedOf(manifest, "Observation");
  assert.deepEqual(observations.map((o) => o.id), server.resources("Observation").map((o) => o.id));
  assert.deepEqual(observationFiles.map((o: { count: number }) => o.count).slice(0, 2), [10, 10]);

  const gz = await fetch(observationFiles[0].url, { headers: { "accept-encoding": "gzip" } });
  assert.equal(gz.headers.get("content-encoding"), "gzip");
  assert.equal(gz.headers.get("content-type"), "application/fhir+ndjson");
  assert.equal((await gz.text()).split("\n").filter(Boolean).length, 10);
  const plain = await fetch(observationFiles[0].url, {
    headers: { "accept-encoding": "identity" },
  });
  assert.equal(plain.headers.get("content-encoding"), null);
  await plain.body?.cancel();

  const del = await fetch(statusUrl, { method: "DELETE" });
  assert.equal(del.status, 202);
  await del.body?.cancel();
  const after = await fetch(statusUrl);
  assert.equal(after.status, 404);
  await after.body?.cancel();
  const kinds = server.requests.map((r) => r.kind);
  assert.deepEqual(kinds.slice(0, 4), ["kickoff", "status", "status", "status"]);
  assert.ok(kinds.includes("delete") && kinds.includes("file"));
});

Deno.test("Patient-level export by POST Parameters exports only compartment types", async () => {
  await using server = await FakeFhirServer.start({ pollsUntilReady: 0, patients: 6 });
  const manifest = await exportManifest(`${server.baseUrl}/Patient/$export`, {
    body: {
      resourceType: "Parameters",
      parameter: [
        { name: "_type", valueString: "Patient,Condition,Practitioner" },
        { name: "_outputFormat", valueString: "application/fhir+ndjson" },
        { name: "_typeFilter", valueString: "Condition?recorded-date=ge2024-01-01" },
      ],
    },
  });
  assert.deepEqual([...new Set(manifest.output.map((o) => o.type))], ["Patient", "Condition"]);
  const conditions = await exportedOf(manifest, "Condition");
  assert.ok(conditions.length > 0);
  assert.ok(conditions.every((c) => String(c.recordedDate) >= "2024-01-01"));
  assert.equal((await exportedOf(manifest, "Patient")).length, 6);
  const log = server.requests.find((r) => r.kind === "kickoff")!;
  assert.equal(log.method, "POST");
  assert.match(log.body!, /Parameters/);
});

Deno.test("Group export: only members; unknown group 404; missing Prefer 400; method not allowed 405", async () => {
  await using server = await FakeFhirServer.start({ pollsUntilReady: 0, kickoffMethods: ["GET"] });
  const manifest = await exportManifest(
    `${server.baseUrl}/Group/odd/$export?_type=Patient,Encounter`,
  );
  const odd = new Set(server.groupMembers("odd"));
  assert.deepEqual((await exportedOf(manifest, "Patient")).map((p) => p.id), [...odd]);
  const encounters = await exportedOf(manifest, "Encounter");
  assert.ok(
    encounters.every((e) =>
      odd.has(String((e.subject as { reference: string }).reference).slice(8))
    ),
  );
  const check = async (init: RequestInit & { url: string }, status: number, pattern: RegExp) => {
    const res = await fetch(init.url, init);
    assert.equal(res.status, status);
    const body = await res.json();
    assert.equal(body.resourceType, "OperationOutcome");
    assert.match(JSON.stringify(body), pattern);
  };
  await check({ url: `${server.baseUrl}/Group/nope/$export`, headers: ASYNC_HEADERS }, 404, /nope/);
  await check({ url: `${server.baseUrl}/$export` }, 400, /respond-async/);
  await check(
    { url: `${server.baseUrl}/$export`, method: "POST", headers: ASYNC_HEADERS, body: "{}" },
    405,
    /POST/,
  );
  await check(
    { url: `${server.baseUrl}/$export?_type=Binary`, headers: ASYNC_HEADERS },
    400,
    /Binary/,
  );
  await check(
    { url: `${server.baseUrl}/$export?_since=yesterday`, headers: ASYNC_HEADERS },
    400,
    /_since/,
  );
});

Deno.test("_typeFilter: commas split filters, %2C stays inside one, filters OR, unknown params 400", async () => {
  await using server = await FakeFhirServer.start({
    pollsUntilReady: 0,
    rejectRepeatedParams: true,
  });
  const categoryOf = (o: Record<string, unknown>) =>
    (o.category as { coding: { code: string }[] }[]).flatMap((c) => c.coding.map((x) => x.code));
  const filters = [
    "Observation?category=laboratory%2Cvital-signs", // one filter: laboratory OR vital-signs
    "Observation?status=amended", // OR-ed with the first
    "Condition?_id=cond-0001-1",
  ].join(",");
  const manifest = await exportManifest(
    `${server.baseUrl}/$export?_type=Observation,Condition&_typeFilter=${
      encodeURIComponent(filters)
    }`,
  );
  const observations = await exportedOf(manifest, "Observation");
  const expected = server.resources("Observation").filter((o) =>
    categoryOf(o).some((c) => c === "laboratory" || c === "vital-signs") || o.status === "amended"
  );
  assert.deepEqual(observations.map((o) => o.id), expected.map((o) => o.id));
  assert.ok(observations.some((o) => categoryOf(o).includes("vital-signs")));
  assert.deepEqual((await exportedOf(manifest, "Condition")).map((c) => c.id), ["cond-0001-1"]);

  const refuse = async (query: string, pattern: RegExp) => {
    const res = await fetch(`${server.baseUrl}/$export?${query}`, { headers: ASYNC_HEADERS });
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(await res.json()), pattern);
  };
  await refuse(`_typeFilter=${encodeURIComponent("Observation?flavour=sweet")}`, /flavour/);
  await refuse("_type=Patient&_type=Observation", /_type/);
  await refuse(
    `_typeFilter=${encodeURIComponent("Observation?status=final")}&_typeFilter=${
      encodeURIComponent("Condition?_id=x")
    }`,
    /_typeFilter/,
  );
});

Deno.test("_since exports changes and lists deletions; a started export keeps its snapshot", async () => {
  let clock = Date.UTC(2026, 2, 1);
  await using server = await FakeFhirServer.start({ pollsUntilReady: 1, now: () => clock });
  const before = await kickoff(`${server.baseUrl}/Patient/$export?_type=Patient,Condition`);
  const since = new Date(clock).toISOString();
  clock += 60_000;
  server.mutate({
    touch: ["Patient/pat-0002"],
    remove: ["Condition/cond-0003-1", "Patient/pat-0004"],
    add: [{
      resourceType: "Condition",
      id: "cond-new",
      subject: { reference: "Patient/pat-0001" },
    }],
  });
  assert.ok(!server.groupMembers("all").includes("pat-0004"));
  const old = await manifestOf(before);
  assert.ok((await exportedOf(old, "Patient")).some((p) => p.id === "pat-0004"), "snapshot kept");

  const manifest = await exportManifest(
    `${server.baseUrl}/Patient/$export?_type=Patient,Condition&_since=${encodeURIComponent(since)}`,
  );
  assert.deepEqual((await exportedOf(manifest, "Patient")).map((p) => p.id), ["pat-0002"]);
  const conditions = await exportedOf(manifest, "Condition");
  assert.deepEqual(conditions.map((c) => c.id), ["cond-new"]);
  assert.equal(
    (conditions[0]!.meta as { lastUpdated: string }).lastUpdated,
    new Date(clock).toISOString(),
  );
  assert.equal(manifest.deleted?.length, 1);
  const deleted = await ndjson(manifest.deleted![0]!.url);
  assert.deepEqual(deleted, [
    {
      resourceType: "Bundle",
      type: "transaction",
      entry: [{ request: { method: "DELETE", url: "Condition/cond-0003-1" } }],
    },
    {
      resourceType: "Bundle",
      type: "transaction",
      entry: [{ request: { method: "DELETE", url: "Patient/pat-0004" } }],
    },
  ]);
});

Deno.test("paged manifests, error files, 429 when too many exports run", async () => {
  await using server = await FakeFhirServer.start({
    pollsUntilReady: 1,
    manifestPageSize: 2,
    maxConcurrentExports: 1,
    progressRetryAfter: null,
    manifestErrors: [{ severity: "warning", diagnostics: "Some notes were skipped" }],
  });
  const statusUrl = await kickoff(`${server.baseUrl}/$export?_type=Patient,Condition,Encounter`);
  const busy = await fetch(`${server.baseUrl}/$export`, { headers: ASYNC_HEADERS });
  assert.equal(busy.status, 429);
  assert.ok(busy.headers.get("retry-after"));
  await busy.body?.cancel();
  const first = await fetch(statusUrl);
  assert.equal(first.status, 202);
  assert.equal(first.headers.get("retry-after"), null);
  await first.body?.cancel();
  let manifest = await manifestOf(statusUrl);
  const types: string[] = [];
  const errors = manifest.error;
  let pages = 1;
  types.push(...manifest.output.map((o) => o.type));
  while (manifest.link) {
    const next = manifest.link.find((l) => l.relation === "next")!.url;
    assert.match(next, /\?page=\d+$/);
    manifest = await manifestOf(next);
    assert.ok(manifest.output.length <= 2);
    types.push(...manifest.output.map((o) => o.type));
    pages++;
  }
  assert.ok(pages > 1);
  assert.deepEqual([...new Set(types)], ["Patient", "Condition", "Encounter"]);
  assert.equal(errors.length, 1);
  const outcomes = await ndjson(errors[0]!.url);
  assert.equal(
    (outcomes[0]!.issue as { diagnostics: string }[])[0]!.diagnostics,
    "Some notes were skipped",
  );
  // The first export is complete now, so a new one may start.
  await kickoff(`${server.baseUrl}/$export`);
});
