/** The `latency` option: constant or long-tailed per URL, concurrent, logged and counted. */

import assert from "node:assert/strict";
import { FakeFhirServer, latencyFor, LONG_TAIL } from "./mod.ts";
import type { LatencyOption } from "./types.ts";

const LONG: LatencyOption = { kind: "longTail", seed: 3 };

/** What latencyFor is given for a URL the client fetched. */
const pathAndQuery = (url: string) => {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
};

async function timed(url: string): Promise<{ ms: number; status: number }> {
  const start = performance.now();
  const res = await fetch(url);
  await res.body?.cancel();
  return { ms: performance.now() - start, status: res.status };
}

Deno.test("latencyFor: constant, or a deterministic long tail of 85/14.5/0.5 % per URL", () => {
  assert.equal(latencyFor(undefined, "/fhir/Patient"), 0);
  assert.equal(latencyFor({ kind: "constant", ms: 25 }, "/fhir/Patient"), 25);
  assert.deepEqual(LONG_TAIL.map((b) => b.ms), [10, 60, 4000]);
  const counts = new Map<number, number>();
  const n = 40_000;
  for (let i = 1; i <= n; i++) {
    const ms = latencyFor(LONG, `/fhir/Observation?patient=pat-${String(i).padStart(5, "0")}`);
    counts.set(ms, (counts.get(ms) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort((a, b) => a - b), [10, 60, 4000]);
  assert.ok(Math.abs(counts.get(10)! / n - 0.85) < 0.01, `${counts.get(10)}`);
  assert.ok(Math.abs(counts.get(60)! / n - 0.145) < 0.01, `${counts.get(60)}`);
  assert.ok(Math.abs(counts.get(4000)! / n - 0.005) < 0.0015, `${counts.get(4000)}`);
  // Same URL and seed: same latency; the default seed is 1; another seed picks differently.
  const urls = Array.from({ length: 200 }, (_, i) => `/fhir/Condition?patient=pat-${i}`);
  const of = (latency: LatencyOption) => urls.map((u) => latencyFor(latency, u));
  assert.deepEqual(of(LONG), of({ kind: "longTail", seed: 3 }));
  assert.deepEqual(of({ kind: "longTail" }), of({ kind: "longTail", seed: 1 }));
  assert.notDeepEqual(of(LONG), of({ kind: "longTail", seed: 4 }));
});

Deno.test("constant latency delays searches, reads and Binary concurrently, not metadata", async () => {
  await using server = await FakeFhirServer.start({
    patients: 3,
    latency: { kind: "constant", ms: 300 },
  });
  const binary = server.resources("Binary")[0]!.id;
  const urls = [
    ...Array.from(
      { length: 8 },
      (_, i) => `${server.baseUrl}/Observation?patient=pat-000${(i % 3) + 1}&_count=${i + 1}`,
    ),
    `${server.baseUrl}/Patient/pat-0001`,
    `${server.baseUrl}/Binary/${binary}`,
  ];
  const start = performance.now();
  const results = await Promise.all(urls.map(timed));
  const elapsed = performance.now() - start;
  assert.ok(results.every((r) => r.status === 200 && r.ms >= 299), JSON.stringify(results));
  // Ten requests of 300 ms each: one after another they would take 3 s at least.
  assert.ok(elapsed < 2700, `served one at a time: ${elapsed} ms`);
  await timed(`${server.baseUrl}/metadata`);
  const delayed = server.requests.filter((r) => r.latencyMs !== undefined);
  assert.deepEqual(
    delayed.map((r) => r.kind).sort(),
    [...Array(8).fill("search"), "binary", "read"].sort(),
  );
  assert.ok(delayed.every((r) => r.latencyMs === 300));
  assert.equal(server.requests.find((r) => r.kind === "metadata")!.latencyMs, undefined);
});

Deno.test("longTail: each URL waits what latencyFor says, at any concurrency; faults add", async () => {
  await using server = await FakeFhirServer.start({
    patients: 30,
    latency: LONG,
    auth: { mode: "bearer", token: "t" },
  });
  const headers = { authorization: "Bearer t" };
  const urls = Array.from(
    { length: 30 },
    (_, i) => `${server.baseUrl}/Encounter?patient=pat-${String(i + 1).padStart(4, "0")}`,
  )
    .filter((url) => latencyFor(LONG, pathAndQuery(url)) < 4000);
  const expected = urls.map((url) => latencyFor(LONG, pathAndQuery(url)));
  assert.ok(expected.includes(10) && expected.includes(60), `${expected}`);
  const get = async (url: string) => {
    const start = performance.now();
    const res = await fetch(url, { headers });
    await res.body?.cancel();
    return { ms: performance.now() - start, status: res.status };
  };
  for (const url of urls) await get(url); // one after another
  const concurrent = await Promise.all(urls.map(get)); // all at once
  concurrent.forEach((r, i) =>
    assert.ok(r.status === 200 && r.ms >= expected[i]! - 1, `${urls[i]}: ${r.ms}`)
  );
  const logged = server.requests.map((r) => r.latencyMs);
  assert.deepEqual(logged.slice(0, urls.length), expected);
  // Concurrent arrivals come in any order: match by URL.
  for (const r of server.requests.slice(urls.length)) {
    assert.equal(r.latencyMs, latencyFor(LONG, `${r.path}?${r.query}`));
  }
  // A 401 waits too, and a latency fault adds to the option.
  const url = urls[0]!;
  const denied = await fetch(url);
  assert.equal(denied.status, 401);
  await denied.body?.cancel();
  server.addFault({ target: "search", fault: { kind: "latency", ms: 100 } });
  const slow = await get(url);
  assert.ok(slow.ms >= expected[0]! + 99, `${slow.ms}`);
  assert.deepEqual(server.requests.slice(-2).map((r) => r.latencyMs), [
    expected[0],
    expected[0]! + 100,
  ]);
});

Deno.test("a long wait ends when the server closes", async () => {
  const server = await FakeFhirServer.start({ patients: 1, latency: LONG });
  const slow = Array.from(
    { length: 2000 },
    (_, i) => `${server.baseUrl}/Observation?patient=pat-0001&_count=${i + 1}`,
  )
    .find((url) => latencyFor(LONG, pathAndQuery(url)) === 4000)!;
  assert.ok(slow);
  const pending = fetch(slow).then((res) => res.text());
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(server.requests.at(-1)!.latencyMs, 4000);
  const start = performance.now();
  await server.close();
  // Waiting out the 4 s answer would take 3.9 s at least.
  assert.ok(performance.now() - start < 3500);
  await assert.rejects(pending);
});

Deno.test("logRequests: false keeps no log; counts, latency totals and violations remain", async () => {
  await using server = await FakeFhirServer.start({
    patients: 2,
    logRequests: false,
    latency: { kind: "constant", ms: 5 },
    filesOnSecondOrigin: true,
  });
  for (
    const path of [
      "Patient",
      "Observation?patient=pat-0001",
      "Condition?patient=pat-0002",
      "Patient/pat-0001",
      "metadata",
    ]
  ) {
    const res = await fetch(`${server.baseUrl}/${path}`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  const stray = await fetch(`${server.secondOrigin}/nothing`, {
    headers: { authorization: "Bearer x" },
  });
  await stray.body?.cancel();
  assert.deepEqual(server.requests, []);
  assert.equal(server.requestCount(), 6);
  assert.equal(server.requestCount("search"), 3);
  assert.equal(server.requestCount("read"), 1);
  assert.equal(server.requestCount("metadata"), 1);
  assert.equal(server.requestCount("file"), 0);
  assert.equal(server.totalLatencyMs(), 20);
  assert.equal(server.totalLatencyMs("search"), 15);
  assert.equal(server.totalLatencyMs("metadata"), 0);
  assert.equal(server.violations.length, 1);
  assert.match(server.violations[0]!, /^request #6 /);

  await using logged = await FakeFhirServer.start({ patients: 1 });
  await (await fetch(`${logged.baseUrl}/Patient`)).body?.cancel();
  assert.equal(logged.requests.length, 1);
  assert.equal(logged.requestCount("search"), 1);
  assert.equal(logged.requests[0]!.latencyMs, undefined);
});
