/**
 * `deno task bench` (hydration part):
 * - Attachments inlined per second against the test server at 25 ms latency and 5 connections,
 *   against the ideal (requests x latency / connections). Goal >= 0.9.
 * - Peak RSS while inlining a 500 MB DocumentReference file (most notes already inlined, one in
 *   fifty to fetch). Goal: flat, well under the file's size.
 * Environment: BENCH_INLINE_NOTES (default 600), BENCH_INLINE_MB (default 500).
 */

import { join } from "node:path";
import { FakeFhirServer } from "../tests/fake_server/mod.ts";
import { measure, smartFetchArgs } from "./measure.ts";

const NOTES = Number(Deno.env.get("BENCH_INLINE_NOTES") ?? 600);
const FILE_MB = Number(Deno.env.get("BENCH_INLINE_MB") ?? 500);
const CONNECTIONS = 5;

/** Runs smart-fetch, measured; it must succeed. */
async function measured(args: string[]) {
  const run = await measure(smartFetchArgs(...args));
  if (run.code !== 0) throw new Error(run.stderr);
  return run;
}

function note(i: number, binary: string, inline: string | undefined) {
  return JSON.stringify({
    resourceType: "DocumentReference",
    id: `bench-doc-${i}`,
    status: "current",
    subject: { reference: "Patient/pat-0001" },
    content: [{
      attachment: inline
        ? { contentType: "text/plain", url: `Binary/${binary}`, data: inline, size: 1 }
        : { contentType: "text/plain", url: `Binary/${binary}?copy=${i}` },
    }],
  });
}

await using server = await FakeFhirServer.start({
  patients: 40,
  latency: { kind: "constant", ms: 25 },
});
const binary = server.resources("Binary").find((b) => b.contentType === "text/plain")!.id;
const work = await Deno.makeTempDir({ prefix: "smart-fetch-hydrate-bench-" });
try {
  // 1. Throughput: NOTES distinct attachment URLs (a query makes each its own request).
  const dir = join(work, "notes");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(
    join(dir, "DocumentReference.ndjson"),
    Array.from({ length: NOTES }, (_, i) => note(i, binary, undefined)).join("\n") + "\n",
  );
  const before = server.requests.length;
  await measured(["inline", "--fhir-url", server.baseUrl, dir]);
  const binaries = server.requests.slice(before).filter((r) => r.kind === "binary");
  const start = Math.min(...binaries.map((r) => r.time));
  const end = Math.max(...binaries.map((r) => r.answered ?? r.time + 25));
  const ideal = binaries.length * 25 / CONNECTIONS;
  const ratio = ideal / (end - start);
  console.log("");
  console.log(
    `inline: ${binaries.length} attachments in ${((end - start) / 1000).toFixed(2)} s (${
      (binaries.length / ((end - start) / 1000)).toFixed(1)
    }/s); ideal ${(ideal / 1000).toFixed(2)} s; ratio ${ratio.toFixed(3)} (goal >= 0.9: ${
      ratio >= 0.9 ? "met" : "NOT met"
    })`,
  );

  // 2. Memory on a big file: rows already inlined (about 5 KB each) with one in fifty to fetch.
  const big = join(work, "big");
  await Deno.mkdir(big);
  const filler = btoa("x".repeat(3600));
  const file = await Deno.open(join(big, "DocumentReference.ndjson"), {
    write: true,
    create: true,
  });
  const encoder = new TextEncoder();
  let bytes = 0;
  for (let i = 0; bytes < FILE_MB * 1_000_000; i++) {
    const row = encoder.encode(note(i, binary, i % 50 === 0 ? undefined : filler) + "\n");
    await file.write(row);
    bytes += row.length;
  }
  file.close();
  server.clearFaults();
  const run = await measured(["inline", "--fhir-url", server.baseUrl, big]);
  console.log(
    `inline of a ${(bytes / 1e6).toFixed(0)} MB DocumentReference file: ${
      (run.ms / 1000).toFixed(1)
    } s, peak RSS ${run.peakRssMb.toFixed(0)} MB (limit 150 MB: ${
      run.peakRssMb < 150 ? "met" : "NOT met"
    })`,
  );
} finally {
  await Deno.remove(work, { recursive: true });
}
