/** Servers that are wrong in ways a client must catch: mislabeled manifests, HTML instead of FHIR. */

import assert from "node:assert/strict";
import { FakeFhirServer } from "./mod.ts";
import { exportManifest, ndjson } from "./test_helpers.ts";

Deno.test("manifestTypeOverrides lists files under another type; the content is unchanged", async () => {
  const options = { pollsUntilReady: 0, resourcesPerFile: 10 };
  const query = "/$export?_type=Patient,Condition,Encounter";
  await using honest = await FakeFhirServer.start(options);
  await using liar = await FakeFhirServer.start({
    ...options,
    manifestTypeOverrides: { Condition: "Patient", Encounter: "Observation" },
  });
  const truth = await exportManifest(honest.baseUrl + query);
  const listed = await exportManifest(liar.baseUrl + query);
  const rename: Record<string, string> = { Condition: "Patient", Encounter: "Observation" };
  assert.deepEqual(
    listed.output.map((o) => [o.type, o.count]),
    truth.output.map((o) => [rename[o.type] ?? o.type, o.count]),
  );
  assert.ok(listed.output.filter((o) => o.type === "Patient").length > 2);
  for (const [i, entry] of listed.output.entries()) {
    const lines = await ndjson(entry.url);
    assert.deepEqual(lines, await ndjson(truth.output[i]!.url), entry.url);
    assert.ok(lines.every((r) => r.resourceType === truth.output[i]!.type));
  }
  assert.equal(liar.requests.filter((r) => r.kind === "status").at(-1)!.status, 200);
});

Deno.test("metadataHtml: [base]/metadata answers an HTML login page", async () => {
  await using server = await FakeFhirServer.start({ metadataHtml: true });
  const res = await fetch(`${server.baseUrl}/metadata`, {
    headers: { accept: "application/fhir+json" },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  const text = await res.text();
  assert.match(text, /^<!DOCTYPE html>/);
  assert.match(text, /<form method="post"/);
  assert.throws(() => JSON.parse(text), SyntaxError);
  assert.deepEqual(
    [server.requests.at(-1)!.kind, server.requests.at(-1)!.status],
    ["metadata", 200],
  );
  // The rest of the server is still FHIR.
  const bundle = await (await fetch(`${server.baseUrl}/Patient?_count=1`)).json();
  assert.equal(bundle.resourceType, "Bundle");
});

Deno.test("htmlNotFound: paths outside the FHIR base answer an HTML 404", async () => {
  await using server = await FakeFhirServer.start({ htmlNotFound: true });
  for (const path of ["/metadata", "/r4/metadata", "/fhirx/$export"]) {
    const res = await fetch(server.origin + path, { headers: { accept: "application/fhir+json" } });
    assert.equal(res.status, 404, path);
    assert.equal(res.headers.get("content-type"), "text/html");
    assert.match(await res.text(), /<title>404 Not Found<\/title>/);
    assert.deepEqual([server.requests.at(-1)!.kind, server.requests.at(-1)!.status], [
      "other",
      404,
    ]);
  }
  // Inside the base, an unknown path is still a FHIR OperationOutcome; the token endpoint works.
  const inside = await fetch(`${server.baseUrl}/Patient/pat-0001/nothing/here`);
  assert.equal(inside.status, 404);
  assert.match(inside.headers.get("content-type")!, /^application\/fhir\+json/);
  assert.equal((await inside.json()).resourceType, "OperationOutcome");
  const token = await fetch(server.tokenUrl, { method: "POST" });
  assert.equal(token.status, 400);
  assert.ok("error" in await token.json());

  await using normal = await FakeFhirServer.start();
  const json = await fetch(`${normal.origin}/r4/metadata`);
  assert.equal(json.status, 404);
  assert.equal((await json.json()).resourceType, "OperationOutcome");
});
