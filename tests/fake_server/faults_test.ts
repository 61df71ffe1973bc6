/** Fault injection, proven with real fetch; and the synthetic benchmark mode. */

import assert from "node:assert/strict";
import { FakeFhirServer, SYNTHETIC_LINE_BYTES } from "./mod.ts";
import { exportManifest, kickoff, ndjson } from "./test_helpers.ts";

Deno.test("status faults: Retry-After forms, bodies, skip/times and pathIncludes", async () => {
  await using server = await FakeFhirServer.start({ pollsUntilReady: 0 });
  const httpDate = new Date(Date.now() + 5000).toUTCString();
  server.addFault({ target: "kickoff", fault: { kind: "status", status: 429, retryAfter: "3" } });
  server.addFault({
    target: "kickoff",
    fault: { kind: "status", status: 429, retryAfter: httpDate },
  });
  server.addFault({
    target: "kickoff",
    fault: { kind: "status", status: 429, retryAfter: "1893456000" },
  });
  for (const expected of ["3", httpDate, "1893456000"]) {
    const res = await fetch(`${server.baseUrl}/$export`, { headers: { prefer: "respond-async" } });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), expected);
    assert.equal((await res.json()).resourceType, "OperationOutcome");
  }
  const statusUrl = await kickoff(`${server.baseUrl}/$export?_type=Patient`);

  server.addFault({
    target: "status",
    skip: 1,
    times: 2,
    fault: { kind: "status", status: 503, body: "transient" },
  });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await fetch(statusUrl);
    statuses.push(res.status);
    const body = await res.json();
    if (res.status === 503) assert.equal(body.issue[0].code, "transient");
  }
  assert.deepEqual(statuses, [200, 503, 503, 200]);

  server.addFault({
    target: "any",
    pathIncludes: "pat-0002",
    fault: { kind: "status", status: 500, body: "text" },
  });
  const other = await fetch(`${server.baseUrl}/Patient/pat-0001`);
  assert.equal(other.status, 200);
  await other.body?.cancel();
  const hit = await fetch(`${server.baseUrl}/Patient?_id=pat-0002`);
  assert.equal(hit.status, 500);
  assert.match(hit.headers.get("content-type")!, /^text\/plain/);
  await hit.text();
  assert.equal(server.requests.at(-1)!.status, 500);

  server.addFault({ target: "read", times: Infinity, fault: { kind: "status", status: 404 } });
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${server.baseUrl}/Patient/pat-0001`);
    assert.equal(res.status, 404);
    await res.body?.cancel();
  }
  server.clearFaults();
  const clean = await fetch(`${server.baseUrl}/Patient/pat-0001`);
  assert.equal(clean.status, 200);
  await clean.body?.cancel();
});

Deno.test("reset and truncate make the client's body read fail, with and without gzip", async () => {
  await using server = await FakeFhirServer.start({ pollsUntilReady: 0, resourcesPerFile: 1000 });
  const manifest = await exportManifest(`${server.baseUrl}/$export?_type=Observation`);
  const url = manifest.output[0]!.url;
  for (const kind of ["reset", "truncate"] as const) {
    for (const encoding of ["gzip", "identity"]) {
      server.addFault({ target: "file", fault: { kind, afterBytes: 1000 } });
      const res = await fetch(url, { headers: { "accept-encoding": encoding } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-encoding"), encoding === "gzip" ? "gzip" : null);
      if (kind === "truncate") assert.ok(Number(res.headers.get("content-length")) > 1000);
      else assert.equal(res.headers.get("transfer-encoding"), "chunked");
      await assert.rejects(res.text(), TypeError, `${kind} ${encoding}`);
      // The next download is whole again.
      assert.equal(
        (await ndjson(url, { "accept-encoding": encoding })).length,
        manifest.output[0]!.count,
      );
    }
  }
  // A stream reader sees the failure too, after the bytes that did arrive.
  server.addFault({ target: "search", fault: { kind: "reset", afterBytes: 50 } });
  const res = await fetch(`${server.baseUrl}/Observation?_count=100`);
  const reader = res.body!.getReader();
  let received = 0;
  await assert.rejects(async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
    }
  });
  assert.equal(received, 50);

  // On a reply without a body (a 202 poll) the connection drops before the head is complete.
  await using polling = await FakeFhirServer.start({ pollsUntilReady: 5 });
  const statusUrl = await kickoff(`${polling.baseUrl}/$export?_type=Patient`);
  polling.addFault({ target: "status", fault: { kind: "reset", afterBytes: 0 } });
  polling.addFault({ target: "status", fault: { kind: "truncate", afterBytes: 10 } });
  await assert.rejects(fetch(statusUrl), TypeError);
  await assert.rejects(fetch(statusUrl), TypeError);
  assert.deepEqual(
    polling.requests.slice(-2).map((r) => r.kind),
    ["status", "status"],
    "no hidden retry",
  );
  const after = await fetch(statusUrl);
  assert.equal(after.status, 202);
  await after.body?.cancel();
});

Deno.test("latency delays an otherwise normal answer", async () => {
  await using server = await FakeFhirServer.start();
  server.addFault({ target: "metadata", fault: { kind: "latency", ms: 150 } });
  const started = performance.now();
  const res = await fetch(`${server.baseUrl}/metadata`);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.ok(performance.now() - started >= 140);
});

Deno.test("closing the server during a latency fault ends cleanly", async () => {
  const server = await FakeFhirServer.start();
  server.addFault({ target: "metadata", fault: { kind: "latency", ms: 60_000 } });
  const pending = fetch(`${server.baseUrl}/metadata`).then((r) => r.text(), (e: unknown) => e);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await server.close();
  assert.ok(await pending instanceof TypeError);
});

Deno.test("synthetic mode streams exact, distinct NDJSON lines", async () => {
  await using server = await FakeFhirServer.start({
    pollsUntilReady: 0,
    synthetic: { type: "Observation", files: 3, bytesPerFile: 4_000_000 },
  });
  const manifest = await exportManifest(`${server.baseUrl}/$export`);
  assert.equal(manifest.output.length, 3);
  const lines = Math.ceil(4_000_000 / SYNTHETIC_LINE_BYTES);
  const files = await Promise.all(manifest.output.map(async (o) => {
    assert.equal(o.count, lines);
    const res = await fetch(o.url, { headers: { "accept-encoding": "gzip" } });
    assert.equal(res.headers.get("content-encoding"), null, "no gzip unless asked");
    assert.equal(Number(res.headers.get("content-length")), lines * SYNTHETIC_LINE_BYTES);
    return await res.text();
  }));
  const ids = new Set<string>();
  for (const text of files) {
    const rows = text.split("\n").filter(Boolean);
    assert.equal(rows.length, lines);
    for (const row of rows) ids.add(JSON.parse(row).id);
  }
  // Speed is measured by `deno task bench`, not asserted here.
  assert.equal(ids.size, 3 * lines);

  server.addFault({ target: "file", fault: { kind: "truncate", afterBytes: 100_000 } });
  const cut = await fetch(manifest.output[0]!.url);
  await assert.rejects(cut.arrayBuffer());
});
