/**
 * `export` in crawl mode: the BCH command (`--id-system --id-file --nickname`), quarterly
 * refreshes, and new, merged and deleted patients compared with the previous export.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { requestsOf } from "./helpers/bulk_e2e.ts";
import { runCliProcess } from "./helpers/cli.ts";
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

Deno.test("a group whose every MRN left: the export holds no patient and reports every one deleted", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({ patients: 4, now: () => clock.now() });
  await using out = await tempDir();
  const dir = join(out.path, "root", "MRN-007");
  const file = join(out.path, "MRN-007");
  const run = (nickname: string) =>
    exportRun(
      server,
      dir,
      clock,
      "--nickname",
      nickname,
      "--id-system",
      SYSTEM,
      "--id-file",
      file,
      ...TYPES,
    );

  // Into a folder with no earlier export, an empty file is a mistake: refused, nothing written.
  await Deno.writeTextFile(file, "");
  const refused = await run("2026-Q3");
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    refused.stderr,
    /^error: The ID file ".*MRN-007" holds no IDs\. An empty cohort is exported only into a managed folder with a finished earlier export, to report its patients deleted\.\n$/,
  );
  assert.equal(await Deno.stat(dir).then(() => true, () => false), false);
  assert.equal(server.requests.length, 0);

  await Deno.writeTextFile(file, [1, 2].map(mrn).join("\n") + "\n");
  assert.equal((await run("2026-Q3")).code, 0);
  const first = join(dir, "001.2026-Q3");
  const conditions = (await readResources(join(first, "Condition.ndjson.gz"))).map((c) => c.id);
  assert.ok(conditions.length > 0);

  // Next quarter both MRNs are gone: cohort split left the group file empty.
  await Deno.writeTextFile(file, "");
  clock.advance(90 * 86_400_000);
  const emptied = await run("2026-Q4");
  assert.equal(emptied.code, 0, emptied.stderr);
  assert.match(emptied.stderr, /holds no IDs: this export holds no patient, and every patient/);
  // Nothing is left to link to: the top level holds no data file of the old export.
  assert.deepEqual([...(await links(dir)).keys()], []);
  // verify finds the folder whole, and notes the ETL flag these deletions need.
  const verified = await runCliProcess(["verify", dir]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  const notes = verified.stdout.split("\n").filter((l) => l.includes(": note: "));
  assert.deepEqual(
    notes.map((l) => /\[(.*)\]$/.exec(l)?.[1]),
    Array(3).fill("deletions-need-flag"),
  );
  assert.ok(notes.some((l) => l.includes("2 Patient deletion(s)")), notes.join("\n"));
  assert.match(verified.stdout, /verify: the folder is whole; .*; 3 notes\n$/);
  const sub = join(dir, "002.2026-Q4");
  assert.equal((await metadata(sub)).complete, true);
  assert.deepEqual(await deletedIds(join(sub, "deleted", "Bundle.Patient.ndjson.gz")), [
    `Patient/${pid(1)}`,
    `Patient/${pid(2)}`,
  ]);
  assert.deepEqual(
    await deletedIds(join(sub, "deleted", "Bundle.Condition.ndjson.gz")),
    conditions.map((id) => `Condition/${id}`).sort(),
  );
  await assertSubfoldersReadable(dir);
  // A rerun is a no-op, as for any finished export.
  const again = await run("2026-Q4");
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already complete/);
});
