/**
 * `--max-requests-per-second`: a per-process ceiling on request starts, checked on the fake
 * server's request log. Only lower bounds on time are asserted, so a slow machine cannot fail it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { runCliProcess } from "./helpers/cli.ts";
import { tempDir } from "./helpers/folder.ts";

Deno.test("--max-requests-per-second spaces every request of a crawl, across all connections", async () => {
  await using server = await FakeFhirServer.start({ patients: 8 });
  await using out = await tempDir();
  const rate = 10;
  const r = await runCliProcess([
    "crawl",
    "--fhir-url",
    server.baseUrl,
    "--type",
    "Patient,Condition,Observation,Encounter",
    "--max-connections",
    "5",
    "--max-requests-per-second",
    String(rate),
    join(out.path, "crawl"),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const times = server.requests.map((q) => q.time);
  assert.ok(times.length >= 2 * rate, `only ${times.length} requests`);
  // Any rate+1 consecutive starts span at least a second (less a little for arrival jitter).
  for (let i = 0; i + rate < times.length; i++) {
    const span = times[i + rate]! - times[i]!;
    assert.ok(span >= 1000 - 60, `requests ${i + 1}..${i + rate + 1} came within ${span} ms`);
  }
});

Deno.test("--max-requests-per-second refuses a value that is no rate, naming it", async () => {
  for (const bad of ["0", "-1", "fast", "1e3"]) {
    const r = await runCliProcess(["crawl", "--max-requests-per-second", bad, "x"]);
    assert.equal(r.code, 2, bad);
    assert.match(
      r.stderr,
      new RegExp(`argument '${bad}' is invalid. Expected requests per second`),
    );
  }
});
