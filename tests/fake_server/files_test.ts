/** Export files: access tokens, the second origin, 307 redirects, violations and expiry. */

import assert from "node:assert/strict";
import { FakeFhirServer } from "./mod.ts";
import { exportManifest, kickoff, manifestOf, ndjson } from "./test_helpers.ts";

const BEARER = { authorization: "Bearer s3cret" };

Deno.test("files need the token when requiresAccessToken is true", async () => {
  await using server = await FakeFhirServer.start({
    pollsUntilReady: 0,
    auth: { mode: "bearer", token: "s3cret" },
  });
  const denied = await fetch(`${server.baseUrl}/$export`, { headers: { prefer: "respond-async" } });
  assert.equal(denied.status, 401);
  assert.match(denied.headers.get("www-authenticate")!, /^Bearer/);
  assert.equal((await denied.json()).resourceType, "OperationOutcome");

  const manifest = await exportManifest(`${server.baseUrl}/$export?_type=Patient`, {
    headers: BEARER,
  });
  assert.equal(manifest.requiresAccessToken, true);
  const url = manifest.output[0]!.url;
  assert.ok(url.startsWith(`${server.origin}/files/`));
  const anonymous = await fetch(url);
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  assert.equal((await ndjson(url, BEARER)).length, 20);
  assert.equal((await ndjson(url, BEARER)).length, 20, "files can be downloaded again");
  assert.deepEqual(server.violations, []);
});

Deno.test("files on the second origin are capability URLs; sending the token there is a violation", async () => {
  await using server = await FakeFhirServer.start({
    pollsUntilReady: 0,
    auth: { mode: "bearer", token: "s3cret" },
    filesOnSecondOrigin: true,
  });
  const manifest = await exportManifest(`${server.baseUrl}/$export?_type=Patient`, {
    headers: BEARER,
  });
  assert.equal(manifest.requiresAccessToken, false);
  const url = manifest.output[0]!.url;
  assert.ok(url.startsWith(`${server.secondOrigin}/files/`));
  assert.equal((await ndjson(url)).length, 20);
  assert.deepEqual(server.violations, []);
  await ndjson(url, BEARER);
  assert.equal(server.violations.length, 1);
  assert.match(server.violations[0]!, /second origin carried an Authorization header/);
  const log = server.requests.at(-1)!;
  assert.equal(log.listener, "second");
  assert.equal(log.kind, "file");
  assert.equal(log.headers["authorization"], "Bearer s3cret");
});

Deno.test("requiresAccessToken false on the main origin: a token sent anyway is a violation", async () => {
  await using server = await FakeFhirServer.start({
    pollsUntilReady: 0,
    auth: { mode: "bearer", token: "s3cret" },
    requiresAccessToken: false,
  });
  const manifest = await exportManifest(`${server.baseUrl}/$export?_type=Patient`, {
    headers: BEARER,
  });
  assert.equal(manifest.requiresAccessToken, false);
  await ndjson(manifest.output[0]!.url);
  assert.deepEqual(server.violations, []);
  await ndjson(manifest.output[0]!.url, BEARER);
  assert.match(server.violations[0]!, /requiresAccessToken: false/);
});

Deno.test("307 to the second origin: fetch drops Authorization across origins", async () => {
  await using server = await FakeFhirServer.start({
    pollsUntilReady: 0,
    auth: { mode: "bearer", token: "s3cret" },
    redirectFilesToSecondOrigin: true,
  });
  const manifest = await exportManifest(`${server.baseUrl}/$export?_type=Patient`, {
    headers: BEARER,
  });
  const url = manifest.output[0]!.url;
  assert.ok(url.startsWith(server.origin));
  const hop = await fetch(url, { headers: BEARER, redirect: "manual" });
  assert.equal(hop.status, 307);
  assert.equal(hop.headers.get("location"), url.replace(server.origin, server.secondOrigin));
  await hop.body?.cancel();
  assert.equal((await ndjson(url, BEARER)).length, 20);
  const [main, second] = server.requests.slice(-2);
  assert.equal(main!.listener, "main");
  assert.equal(main!.status, 307);
  assert.equal(second!.listener, "second");
  assert.equal(second!.headers["authorization"], undefined);
  assert.deepEqual(server.violations, []);
});

Deno.test("expired exports answer 404 and expired files 410 until a new poll gives fresh URLs", async () => {
  await using server = await FakeFhirServer.start({ pollsUntilReady: 0 });
  const statusUrl = await kickoff(`${server.baseUrl}/$export?_type=Patient`);
  const manifest = await manifestOf(statusUrl);
  server.expireFiles();
  const old = await fetch(manifest.output[0]!.url);
  assert.equal(old.status, 410);
  await old.body?.cancel();
  const fresh = await manifestOf(statusUrl);
  assert.notEqual(fresh.output[0]!.url, manifest.output[0]!.url);
  assert.equal((await ndjson(fresh.output[0]!.url)).length, 20);

  server.expireExports();
  const gone = await fetch(statusUrl);
  assert.equal(gone.status, 404);
  await gone.body?.cancel();

  await using custom = await FakeFhirServer.start({ pollsUntilReady: 0, expiredStatusCode: 410 });
  const customStatus = await kickoff(`${custom.baseUrl}/$export?_type=Patient`);
  custom.expireExports();
  const customGone = await fetch(customStatus);
  assert.equal(customGone.status, 410);
  await customGone.body?.cancel();
});
