/**
 * `export` in crawl mode: the BCH command (`--id-system --id-file --nickname`), quarterly
 * refreshes, and new, merged and deleted patients compared with the previous export.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { requestsOf } from "./helpers/bulk_e2e.ts";
import { logRows, metadata, readResources, tempDir } from "./helpers/folder.ts";
import {
  assertSubfoldersReadable,
  deletedIds,
  exportRun,
  links,
  subfolders,
} from "./helpers/managed.ts";

const SYSTEM = "urn:oid:1.2.3.4";
const TYPES = ["--type", "Patient,Condition,Encounter", "--hydration-tasks", "none"];

const mrn = (n: number) => `MRN${String(n).padStart(4, "0")}`;
const pid = (n: number) => `pat-${String(n).padStart(4, "0")}`;

Deno.test("the BCH command crawls an MRN file into a managed folder; a refresh finds new, merged and deleted patients", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({ patients: 8, now: () => clock.now() });
  await using out = await tempDir();
  const root = join(out.path, "root");
  const dir = join(root, "MRN-123");
  const file = join(out.path, "MRN-123");
  await Deno.writeTextFile(file, [1, 2, 3, 4, 5].map(mrn).join("\n") + "\n");
  const run = (nickname: string, ...extra: string[]) =>
    exportRun(
      server,
      dir,
      clock,
      "--verbose",
      "--nickname",
      nickname,
      "--id-system",
      SYSTEM,
      "--id-file",
      file,
      ...TYPES,
      ...extra,
    );
  const first = await run("initial");
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(await subfolders(dir), ["001.initial"]);
  const meta1 = await metadata(join(dir, "001.initial"));
  assert.equal(meta1.mode, "crawl");
  assert.equal(meta1.complete, true);
  const kick = (await logRows(join(dir, "001.initial"))).find((r) => r.eventId === "kickoff")!;
  assert.equal(kick.eventDetail.exportUrl, `${server.baseUrl}/Group/MRN-123/$export`);
  assert.equal((await links(dir)).get("Patient.001.ndjson.gz"), "001.initial/Patient.ndjson.gz");

  // The quarter: MRN 1 left the hospital, MRN 6 is new; patient 3 absorbed patient 7 (merge);
  // one of patient 2's Conditions is gone from the EHR.
  await Deno.writeTextFile(file, [2, 3, 4, 5, 6].map(mrn).join("\n") + "\n");
  clock.advance(90 * 86_400_000);
  const p3 = server.resources("Patient").find((p) => p.id === pid(3))!;
  const gone = server.resources("Condition").find((c) =>
    (c.subject as { reference: string }).reference === `Patient/${pid(2)}`
  )!;
  server.mutate({
    add: [{ ...p3, link: [{ type: "replaces", other: { reference: `Patient/${pid(7)}` } }] }],
    remove: [`Condition/${gone.id}`],
  });
  const refresh = await run("2026-03");
  assert.equal(refresh.code, 0, refresh.stderr);
  assert.deepEqual(await subfolders(dir), ["001.initial", "002.2026-03"]);
  const sub = join(dir, "002.2026-03");
  const meta2 = await metadata(sub);
  // New: MRN 6's patient, and patient 3, whose merge makes it a survivor.
  assert.deepEqual(meta2.newPatients, [pid(3), pid(6)]);
  assert.deepEqual(await deletedIds(join(sub, "deleted", "Bundle.Patient.ndjson.gz")), [
    `Patient/${pid(1)}`,
  ]);
  const deletedConditions = await deletedIds(join(sub, "deleted", "Bundle.Condition.ndjson.gz"));
  assert.ok(deletedConditions.includes(`Condition/${gone.id}`), deletedConditions.join());
  // Patient 1's Conditions are gone from this export too: they are deleted as well.
  assert.ok(deletedConditions.some((d) => d.includes("cond-0001-")));
  await assertSubfoldersReadable(dir);
  // The full refresh replaces the first export in the links.
  assert.ok([...(await links(dir)).values()].every((t) => t.startsWith("002.2026-03/")));

  // An incremental crawl: unchanged patients are not deleted; new patients get full history.
  await Deno.writeTextFile(file, [2, 3, 4, 5, 6, 8].map(mrn).join("\n") + "\n");
  clock.advance(86_400_000);
  const before = server.requests.length;
  const inc = await run("since", "--since", "auto");
  assert.equal(inc.code, 0, inc.stderr);
  const sub3 = join(dir, "003.since");
  const meta3 = await metadata(sub3);
  assert.deepEqual(meta3.newPatients, [pid(8)]);
  assert.equal((meta3.sinceResources as string[]).includes("Patient"), false);
  const searches = server.requests.slice(before).filter((r) =>
    r.kind === "search" && !r.path.endsWith("/Patient")
  );
  for (const q of searches) {
    const full = q.query.includes(`patient=${pid(8)}`);
    assert.equal(q.query.includes("_lastUpdated=gt"), !full, `${q.path}?${q.query}`);
  }
  assert.equal(
    await Deno.stat(join(sub3, "deleted", "Bundle.Patient.ndjson.gz")).then(
      () => true,
      () => false,
    ),
    false,
    "a since crawl never reports unchanged patients as deleted",
  );
  const patients = (await readResources(join(sub3, "Patient.ndjson.gz"))).map((p) => p.id).sort();
  assert.deepEqual(patients, [2, 3, 4, 5, 6, 8].map(pid), "the cohort is read whole");
  assert.equal(requestsOf(server, "kickoff").length, 0, "no bulk export at all");
});
