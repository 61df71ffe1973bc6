/** `filesAsBinary`: export files served as Binary resources, as HAPI FHIR and Smile CDR do. */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { gunzipSync } from "node:zlib";
import { FakeFhirServer } from "./mod.ts";
import type { FakeServerOptions } from "./types.ts";
import { exportManifest, kickoff, type Manifest, manifestOf } from "./test_helpers.ts";

const BEARER = { authorization: "Bearer s3cret" };
const NDJSON_ACCEPT = { ...BEARER, accept: "application/fhir+ndjson" };
const decoder = new TextDecoder();

function allUrls(manifest: Manifest): string[] {
  return [...manifest.output, ...manifest.error, ...manifest.deleted ?? []].map((f) => f.url);
}

/**
 * Starts a server, changes some data a minute after the start (so `_since` lists a deletion)
 * and kicks off `query`. Every server started so sees the same data at the same times.
 */
async function startWithChanges(
  options: FakeServerOptions,
  query: string,
): Promise<{ server: FakeFhirServer; statusUrl: string }> {
  let clock = Date.UTC(2026, 2, 1);
  const server = await FakeFhirServer.start({ ...options, now: () => clock });
  const since = new Date(clock).toISOString();
  clock += 60_000;
  server.mutate({
    touch: ["Patient/pat-0002", "Condition/cond-0001-1"],
    remove: ["Condition/cond-0003-1"],
  });
  const statusUrl = await kickoff(
    `${server.baseUrl}${query}&_since=${encodeURIComponent(since)}`,
    { headers: BEARER },
  );
  return { server, statusUrl };
}

/** The NDJSON text of every file (output, error, deleted) of a manifest with plain files. */
async function texts(manifest: Manifest): Promise<string[]> {
  return await Promise.all(
    allUrls(manifest).map(async (url) => await (await fetch(url, { headers: BEARER })).text()),
  );
}

/** The NDJSON files of an export of `query` from a server with plain files. */
async function plainFiles(options: FakeServerOptions, query: string): Promise<string[]> {
  await using plain = await FakeFhirServer.start(options);
  return await texts(await exportManifest(plain.baseUrl + query));
}

/** Error files get fresh OperationOutcome ids per server: compare them without. */
function sameIds(ndjson: string): string {
  return ndjson.replace(/"id":"[0-9a-f-]{36}"/g, '"id":"X"');
}

function fromBase64(data: string): string {
  return decoder.decode(Buffer.from(data, "base64"));
}

Deno.test("filesAsBinary json: Binary URLs on the main origin, JSON whatever Accept says", async () => {
  const options: FakeServerOptions = {
    pollsUntilReady: 0,
    resourcesPerFile: 10,
    auth: { mode: "bearer", token: "s3cret" },
    manifestErrors: [{ severity: "warning", diagnostics: "Some notes were skipped" }],
  };
  const query = "/$export?_type=Patient,Condition";
  const twin = await startWithChanges(options, query);
  await using _ = twin.server;
  const expected = await texts(await manifestOf(twin.statusUrl, BEARER));
  const started = await startWithChanges({ ...options, filesAsBinary: "json" }, query);
  await using server = started.server;
  const { statusUrl } = started;
  const jobId = statusUrl.slice(statusUrl.lastIndexOf("/") + 1);
  const manifest = await manifestOf(statusUrl, BEARER);
  assert.equal(manifest.requiresAccessToken, true);
  const urls = allUrls(manifest);
  assert.equal(urls.length, 4, "Patient, Condition, an error file and a deletion file");
  assert.equal(new Set(urls).size, urls.length);
  const base = server.baseUrl.replaceAll("$", "\\$");
  for (const url of urls) assert.match(url, new RegExp(`^${base}/Binary/${jobId}-[^?/]+\\?gen=0$`));
  assert.ok(expected[2]!.includes('"OperationOutcome"') && expected[3]!.includes('"DELETE"'));

  const anonymous = await fetch(urls[0]!, { headers: { accept: "application/fhir+ndjson" } });
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  for (const [i, url] of urls.entries()) {
    const res = await fetch(url, { headers: NDJSON_ACCEPT });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/fhir+json;charset=UTF-8");
    const text = await res.text();
    assert.ok(text.startsWith('{"resourceType":"Binary","id":"'), text.slice(0, 60));
    const binary = JSON.parse(text);
    assert.deepEqual(Object.keys(binary), ["resourceType", "id", "contentType", "data"]);
    assert.equal(binary.id, new URL(url).pathname.split("/").at(-1));
    assert.equal(binary.contentType, "application/fhir+ndjson");
    assert.equal(sameIds(fromBase64(binary.data)), sameIds(expected[i]!));
    const log = server.requests.at(-1)!;
    assert.deepEqual(
      [log.kind, log.jobId, log.status, log.path],
      ["file", jobId, 200, new URL(url).pathname],
    );
  }

  // Gzip on the wire as for any file; fetch decodes it.
  const gz = await fetch(urls[0]!, { headers: { ...BEARER, "accept-encoding": "gzip" } });
  assert.equal(gz.headers.get("content-encoding"), "gzip");
  assert.equal(fromBase64((await gz.json()).data), expected[0]);

  // Expiry: old URLs 410, a new poll lists fresh ones (generation in the query).
  server.expireFiles();
  const old = await fetch(urls[0]!, { headers: BEARER });
  assert.equal(old.status, 410);
  assert.equal(server.requests.at(-1)!.kind, "file");
  await old.body?.cancel();
  const fresh = (await manifestOf(statusUrl, BEARER)).output[0]!.url;
  assert.equal(fresh, urls[0]!.replace("gen=0", "gen=1"));
  assert.equal(
    fromBase64((await (await fetch(fresh, { headers: BEARER })).json()).data),
    expected[0],
  );

  // The data set's own Binary resources still read as before.
  const note = server.resources("Binary").find((b) => b.contentType === "text/html")!;
  const read = await fetch(`${server.baseUrl}/Binary/${note.id}`, {
    headers: { ...BEARER, accept: "text/html" },
  });
  assert.equal(read.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(await read.text(), /^<!DOCTYPE html>/);
  assert.equal(server.requests.at(-1)!.kind, "binary");
  assert.deepEqual(server.violations, []);
});

Deno.test("filesAsBinary xml: XML unless Accept names FHIR JSON; gzip content and data-first", async () => {
  const options: FakeServerOptions = { pollsUntilReady: 0, resourcesPerFile: 1000 };
  const query = "/$export?_type=Condition";
  const [expected] = await plainFiles(options, query);
  await using xml = await FakeFhirServer.start({ ...options, filesAsBinary: "xml" });
  const url = (await exportManifest(xml.baseUrl + query)).output[0]!.url;
  const shape = new RegExp(
    '^<Binary xmlns="http://hl7.org/fhir"><id value="([^"]+)"/>' +
      '<contentType value="application/fhir\\+ndjson"/><data value="([A-Za-z0-9+/=]+)"/></Binary>$',
  );
  for (const accept of ["application/fhir+ndjson", "*/*", "application/fhir+xml", undefined]) {
    const res = await fetch(url, accept === undefined ? {} : { headers: { accept } });
    assert.equal(res.headers.get("content-type"), "application/fhir+xml;charset=UTF-8", accept);
    const match = shape.exec(await res.text());
    assert.ok(match, `XML Binary for ${accept}`);
    assert.equal(match[1], new URL(url).pathname.split("/").at(-1));
    assert.equal(fromBase64(match[2]!), expected);
  }
  for (const accept of ["application/fhir+json", "application/json;q=0.9, */*;q=0.1"]) {
    const res = await fetch(url, { headers: { accept } });
    assert.equal(res.headers.get("content-type"), "application/fhir+json;charset=UTF-8", accept);
    assert.equal(fromBase64((await res.json()).data), expected);
  }

  await using zipped = await FakeFhirServer.start({
    ...options,
    filesAsBinary: "json",
    binaryGzipContent: true,
    binaryKeyOrder: "data-first",
  });
  const zippedUrl = (await exportManifest(zipped.baseUrl + query)).output[0]!.url;
  const text = await (await fetch(zippedUrl, { headers: { accept: "application/fhir+ndjson" } }))
    .text();
  assert.ok(text.startsWith('{"resourceType":"Binary","data":"'));
  const binary = JSON.parse(text);
  assert.deepEqual(Object.keys(binary), ["resourceType", "data", "id", "contentType"]);
  assert.equal(binary.contentType, "application/fhir+ndjson");
  const data = Buffer.from(binary.data, "base64");
  assert.deepEqual([data[0], data[1]], [0x1f, 0x8b], "gzip magic");
  assert.equal(decoder.decode(gunzipSync(data)), expected);

  await assert.rejects(
    async () => await FakeFhirServer.start({ filesAsBinary: "json", filesOnSecondOrigin: true }),
    RangeError,
  );
});

Deno.test("filesAsBinary streams synthetic files too (base64 across chunks, gzip content)", async () => {
  const synthetic = { type: "Observation", files: 1, bytesPerFile: 600_000 };
  const options: FakeServerOptions = { pollsUntilReady: 0, synthetic };
  const [expected] = await plainFiles(options, "/$export");
  for (const binaryGzipContent of [false, true]) {
    await using server = await FakeFhirServer.start({
      ...options,
      filesAsBinary: "json",
      binaryGzipContent,
    });
    const url = (await exportManifest(`${server.baseUrl}/$export`)).output[0]!.url;
    const binary = await (await fetch(url)).json();
    const data = Buffer.from(binary.data, "base64");
    assert.equal(decoder.decode(binaryGzipContent ? gunzipSync(data) : data), expected);
  }
});
