/**
 * Many patients: ids widen with the count, and per-patient and batched MRN searches answer
 * exactly. (How fast they answer is for `deno task bench`, not a test.)
 */

import assert from "node:assert/strict";
import { FakeFhirServer, MRN_SYSTEM } from "./mod.ts";

Deno.test("10,000 patients: five-digit ids; per-patient and 50-MRN searches answer exactly", async () => {
  await using server = await FakeFhirServer.start({ patients: 10_000, logRequests: false });
  const patients = server.resources("Patient");
  assert.equal(patients.length, 10_000);
  assert.equal(patients[0]!.id, "pat-00001");
  assert.equal(patients.at(-1)!.id, "pat-10000");
  const pid = (n: number) => `pat-${String(n).padStart(5, "0")}`;
  for (const n of [1, 4_321, 10_000]) {
    const res = await fetch(`${server.baseUrl}/Observation?patient=${pid(n)}&_count=1000`);
    const bundle = await res.json();
    const want = server.resources("Observation").filter((o) =>
      (o.subject as { reference: string }).reference === `Patient/${pid(n)}`
    ).map((o) => o.id).sort();
    assert.deepEqual(
      bundle.entry.map((e: { resource: { id: string } }) => e.resource.id).sort(),
      want,
    );
  }
  const values = Array.from({ length: 50 }, (_, i) => `MRN${String(i * 199 + 1).padStart(5, "0")}`);
  const res = await fetch(
    `${server.baseUrl}/Patient?identifier=${
      values.map((v) => `${MRN_SYSTEM}|${v}`).join(",")
    }&_count=50`,
  );
  const bundle = await res.json();
  assert.equal(bundle.total, 50);
  assert.deepEqual(
    bundle.entry.map((e: { resource: { identifier: { value: string }[] } }) =>
      e.resource.identifier[0]!.value
    ),
    values,
    "in the order asked",
  );
  assert.equal(server.requestCount("search"), 4);
});
