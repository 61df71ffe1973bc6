/**
 * The crawler against an independently written FHIR search implementation (Medplum's router
 * and in-memory repository), not our own fake server: its paging links, its parameter parsing,
 * its Bundles. Every patient's resources must arrive exactly once.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../../src/clock.ts";
import { runCli } from "../helpers/cli.ts";
import { listFiles, readResources, tempDir } from "../helpers/folder.ts";
import { startMedplumServer } from "./medplum_server.ts";

const TYPES = [
  "Patient",
  "Encounter",
  "Condition",
  "Observation",
  "DocumentReference",
  "MedicationRequest",
  "Procedure",
  "Immunization",
];

Deno.test("crawl of a Medplum FHIR server by MRN: every resource of the cohort, once, across pages", async () => {
  // Small pages, so every patient's searches span several (next links built by Medplum's code).
  await using server = await startMedplumServer({ patients: 10, defaultCount: 3 });
  await using out = await tempDir();
  const dir = join(out.path, "medplum");
  const cohort = ["pat-0001", "pat-0002", "pat-0004", "pat-0007"];
  const mrns = cohort.map((p) => p.replace("pat-", "MRN"));
  const r = await runCli([
    "crawl",
    "--fhir-url",
    server.baseUrl,
    "--type",
    TYPES.join(","),
    "--no-default-filters",
    "--id-system",
    "urn:oid:1.2.3.4",
    "--id-list",
    mrns.join(","),
    "--since",
    "2019-01-01T00:00:00+00:00",
    "--since-mode",
    "updated",
    dir,
  ], { clock: new FakeClock() });
  assert.equal(r.code, 0, r.stderr);
  const refs = new Set(cohort.map((p) => `Patient/${p}`));
  for (const type of TYPES) {
    const want = server.resources(type).filter((res) => {
      const r = res as Record<string, unknown>;
      if (type === "Patient") return cohort.includes(String(r.id));
      const subject = (r.subject ?? r.patient) as { reference?: string } | undefined;
      return refs.has(subject?.reference ?? "");
    }).map((res) => String((res as { id: string }).id)).sort();
    const file = join(dir, `${type}.ndjson.gz`);
    const got = want.length ? (await readResources(file)).map((x) => String(x.id)).sort() : [];
    assert.deepEqual(got, want, type);
  }
  // Medplum pages at 20: some searches had next pages, and they were followed.
  const paged = server.requests.filter((q) => /_offset=\d+/.test(q.url));
  assert.ok(paged.length > 0, "some next links were followed");
  assert.ok(!(await listFiles(dir)).some((f) => f.startsWith(".crawl")));
});
