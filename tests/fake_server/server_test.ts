/**
 * The fake server's data, discovery documents, search, reads and Binary.
 * (Exports, files, tokens, faults and the CLI have their own *_test.ts files.)
 */

import assert from "node:assert/strict";
import { FakeFhirServer, MRN_SYSTEM, OBS_CATEGORIES } from "./mod.ts";
import { GENERATED_TYPES } from "./data/generate.ts";

Deno.test("data is deterministic per seed and covers what clients need", async () => {
  await using a = await FakeFhirServer.start({ seed: 7 });
  await using b = await FakeFhirServer.start({ seed: 7 });
  await using c = await FakeFhirServer.start({ seed: 8 });
  for (const type of GENERATED_TYPES) {
    assert.equal(JSON.stringify(a.resources(type)), JSON.stringify(b.resources(type)), type);
  }
  assert.notEqual(
    JSON.stringify(a.resources("Observation")),
    JSON.stringify(c.resources("Observation")),
  );

  const patients = a.resources("Patient");
  assert.equal(patients.length, 20);
  assert.equal(patients[0]!.id, "pat-0001");
  assert.deepEqual((patients[0]!.identifier as { system: string; value: string }[])[0], {
    use: "usual",
    type: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v2-0203", code: "MR" }] },
    system: MRN_SYSTEM,
    value: "MRN0001",
  });
  assert.ok(patients.some((p) => Array.isArray(p.link)), "some patients have links");
  for (const type of GENERATED_TYPES) {
    for (const r of a.resources(type)) {
      const updated = Date.parse(String(r.meta?.lastUpdated));
      assert.ok(
        updated >= Date.UTC(2020, 0, 1) && updated < Date.UTC(2026, 0, 2),
        `${type}/${r.id}`,
      );
    }
  }
  const categories = new Set(
    a.resources("Observation").flatMap((o) =>
      (o.category as { coding: { code: string }[] }[]).flatMap((c) => c.coding.map((x) => x.code))
    ),
  );
  for (const category of OBS_CATEGORIES) assert.ok(categories.has(category), category);

  // Every attachment URL is a relative Binary reference that resolves, with matching mimetype.
  const binaries = new Map(a.resources("Binary").map((bin) => [`Binary/${bin.id}`, bin]));
  const attachments = [
    ...a.resources("DocumentReference").flatMap((d) =>
      (d.content as { attachment: { url?: string; contentType: string } }[]).map((x) =>
        x.attachment
      )
    ),
    ...a.resources("DiagnosticReport").flatMap((d) =>
      d.presentedForm as { url?: string; contentType: string }[]
    ),
  ];
  assert.ok(attachments.some((x) => "data" in x), "some attachments are already inlined");
  const mimetypes = new Set(attachments.map((x) => x.contentType));
  assert.deepEqual([...mimetypes].sort(), ["application/pdf", "text/html", "text/plain"]);
  for (const attachment of attachments) {
    assert.match(attachment.url!, /^Binary\//);
    assert.equal(binaries.get(attachment.url!)?.contentType, attachment.contentType);
  }
  const all = a.groupMembers("all");
  assert.equal(all.length, 20);
  assert.deepEqual([...a.groupMembers("even"), ...a.groupMembers("odd")].sort(), [...all].sort());
  assert.ok(a.groupMembers("even").includes("pat-0002"));
});

Deno.test("1000 patients generate, and patient records do not depend on the count", async () => {
  await using big = await FakeFhirServer.start({ patients: 1000 });
  await using small = await FakeFhirServer.start({ patients: 3 });
  assert.equal(big.resources("Patient").length, 1000);
  assert.deepEqual(
    big.resources("Condition").filter((c) => String(c.id).startsWith("cond-0002-")),
    small.resources("Condition").filter((c) => String(c.id).startsWith("cond-0002-")),
  );
});

Deno.test("CapabilityStatement and smart-configuration follow the options", async () => {
  await using server = await FakeFhirServer.start({
    publisher: "Oracle Health",
    auth: { mode: "smart", clients: [] },
  });
  const res = await fetch(`${server.baseUrl}/metadata`);
  assert.equal(res.status, 200);
  const cap = await res.json();
  assert.equal(cap.software.name, "Fake FHIR");
  assert.equal(cap.fhirVersion, "4.0.1");
  assert.equal(cap.publisher, "Oracle Health");
  const rest = cap.rest[0];
  assert.equal(rest.mode, "server");
  const params = (type: string) =>
    rest.resource.find((r: { type: string }) => r.type === type).searchParam.map((
      p: { name: string },
    ) => p.name);
  assert.ok(params("Patient").includes("_lastUpdated"));
  for (
    const [type, name] of [
      ["AllergyIntolerance", "date"],
      ["Condition", "recorded-date"],
      ["DiagnosticReport", "issued"],
      ["DocumentReference", "date"],
      ["MedicationRequest", "authoredon"],
      ["Observation", "issued"],
      ["ServiceRequest", "authored"],
    ]
  ) assert.ok(params(type!).includes(name), `${type} ${name}`);
  const oauth = rest.security.extension[0];
  assert.equal(oauth.extension[0].valueUri, server.tokenUrl);

  const smart = await (await fetch(`${server.baseUrl}/.well-known/smart-configuration`)).json();
  assert.equal(smart.token_endpoint, server.tokenUrl);
  assert.deepEqual(smart.token_endpoint_auth_methods_supported, ["private_key_jwt"]);
  assert.deepEqual(smart.capabilities, [
    "client-confidential-asymmetric",
    "permission-v1",
    "permission-v2",
  ]);

  await using epic = await FakeFhirServer.start({
    software: { name: "Epic" },
    smartConfiguration: false,
    capabilityOauthUris: false,
    scopeVersions: ["v2"],
    supportedTypes: ["Patient", "Observation"],
  });
  const epicCap = await (await fetch(`${epic.baseUrl}/metadata`)).json();
  assert.deepEqual(epicCap.software, { name: "Epic" });
  assert.deepEqual(epicCap.rest[0].resource.map((r: { type: string }) => r.type), [
    "Patient",
    "Observation",
  ]);
  assert.ok(
    !epicCap.rest[0].resource[0].searchParam.some((p: { name: string }) =>
      p.name === "_lastUpdated"
    ),
  );
  assert.equal(epicCap.rest[0].security.extension, undefined);
  const missing = await fetch(`${epic.baseUrl}/.well-known/smart-configuration`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const unsupported = await fetch(`${epic.baseUrl}/Condition?patient=pat-0001`);
  assert.equal(unsupported.status, 404);
  assert.equal((await unsupported.json()).resourceType, "OperationOutcome");
});

Deno.test("search pages with absolute next links and supports the filter params", async () => {
  await using server = await FakeFhirServer.start();
  const expected = server.resources("Observation").filter((o) =>
    (o.subject as { reference: string }).reference === "Patient/pat-0003"
  );
  const seen: string[] = [];
  let url: string | undefined = `${server.baseUrl}/Observation?patient=pat-0003&_count=2`;
  let pages = 0;
  while (url) {
    assert.ok(url.startsWith(server.baseUrl), url);
    const bundle = await (await fetch(url)).json();
    assert.equal(bundle.type, "searchset");
    assert.equal(bundle.total, expected.length);
    seen.push(...bundle.entry.map((e: { resource: { id: string } }) => e.resource.id));
    url = bundle.link.find((l: { relation: string }) => l.relation === "next")?.url;
    pages++;
  }
  assert.deepEqual(seen, expected.map((o) => o.id));
  assert.equal(pages, Math.ceil(expected.length / 2));

  const ids = async (query: string) => {
    const res = await fetch(`${server.baseUrl}/${query}`);
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.entry.map((e: { resource: { id: string } }) => e.resource.id);
  };
  assert.deepEqual(await ids(`Patient?identifier=${MRN_SYSTEM}|MRN0004`), ["pat-0004"]);
  assert.deepEqual(await ids("Patient?_id=pat-0002,pat-0005"), ["pat-0002", "pat-0005"]);
  assert.deepEqual(
    await ids("Condition?subject=Patient/pat-0001"),
    await ids("Condition?patient=pat-0001"),
  );
  const labs = await ids("Observation?category=laboratory&_count=1000");
  const withSystem = await ids(
    "Observation?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory&_count=1000",
  );
  assert.ok(labs.length > 0);
  assert.deepEqual(labs, withSystem);
  const recent = await ids("Condition?recorded-date=ge2024-01-01&_count=1000");
  const all = server.resources("Condition");
  assert.deepEqual(
    recent,
    all.filter((c) => String(c.recordedDate) >= "2024-01-01").map((c) => c.id),
  );
  const updated = await ids("Encounter?_lastUpdated=gt2025-01-01T00:00:00%2B00:00&_count=1000");
  assert.deepEqual(
    updated,
    server.resources("Encounter").filter((e) =>
      String(e.meta!.lastUpdated) > "2025-01-01T00:00:00Z"
    ).map((e) => e.id),
  );

  const bad = await fetch(`${server.baseUrl}/Observation?colour=blue`);
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(await bad.json()), /colour/);
  const read = await fetch(`${server.baseUrl}/Patient/pat-0002`);
  assert.equal((await read.json()).id, "pat-0002");
  const gone = await fetch(`${server.baseUrl}/Patient/nope`);
  assert.equal(gone.status, 404);
  assert.equal((await gone.json()).resourceType, "OperationOutcome");
});

Deno.test("Epic emulation requires type on EpisodeOfCare searches", async () => {
  await using server = await FakeFhirServer.start({ software: { name: "Epic" } });
  const without = await fetch(`${server.baseUrl}/EpisodeOfCare?patient=pat-0001`);
  assert.equal(without.status, 400);
  await without.body?.cancel();
  const withType = await fetch(
    `${server.baseUrl}/EpisodeOfCare?patient=pat-0001&type=http://terminology.hl7.org/CodeSystem/episodeofcare-type|`,
  );
  assert.equal(withType.status, 200);
  assert.equal((await withType.json()).total, 1);
});

Deno.test("Binary answers raw bytes or a Binary resource depending on Accept", async () => {
  await using server = await FakeFhirServer.start();
  const doc = server.resources("DocumentReference").find((d) =>
    (d.content as { attachment: { contentType: string } }[])[0]!.attachment.contentType ===
      "application/pdf"
  )!;
  const url = (doc.content as { attachment: { url: string } }[])[0]!.attachment.url;
  const raw = await fetch(`${server.baseUrl}/${url}`, { headers: { accept: "application/pdf" } });
  assert.equal(raw.status, 200);
  assert.equal(raw.headers.get("content-type"), "application/pdf");
  const bytes = new Uint8Array(await raw.arrayBuffer());
  assert.equal(new TextDecoder().decode(bytes.slice(0, 8)), "%PDF-1.4");

  const html = server.resources("Binary").find((b) => b.contentType === "text/html")!;
  const star = await fetch(`${server.baseUrl}/Binary/${html.id}`, { headers: { accept: "*/*" } });
  assert.equal(star.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(await star.text(), /^<!DOCTYPE html>/);
  const resource = await fetch(`${server.baseUrl}/Binary/${html.id}`, {
    headers: { accept: "application/fhir+json" },
  });
  assert.match(resource.headers.get("content-type")!, /^application\/fhir\+json/);
  const body = await resource.json();
  assert.equal(body.resourceType, "Binary");
  assert.equal(body.data, html.data);
});
