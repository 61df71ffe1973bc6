/** `export`: ID cohorts are never silently ignored, Epic picks crawl, and two runs never mix. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { FolderLock } from "../src/workspace/lock.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { readResources, tempDir } from "./helpers/folder.ts";
import { assertSubfoldersReadable, exportRun, snapshot, subfolders } from "./helpers/managed.ts";

Deno.test("an ID cohort is never ignored: it is crawled, never a bulk export of everyone", async () => {
  await using server = await FakeFhirServer.start({ patients: 4 });
  await using out = await tempDir();
  const ids = join(out.path, "MRN-123.csv");
  await Deno.writeTextFile(ids, "MRN,name\nMRN0001,a\nMRN0002,b\n");
  const dir = join(out.path, "MRN-123");
  const clock = new FakeClock();
  const bulk = await exportRun(
    server,
    dir,
    clock,
    "--id-list",
    "pat-0001,pat-0002",
    "--export-mode",
    "bulk",
  );
  assert.equal(bulk.code, 2);
  assert.match(bulk.stderr, /--export-mode bulk cannot export an ID cohort/);
  assert.equal(await Deno.stat(dir).then(() => true, () => false), false, "nothing written");
  const both = await exportRun(server, dir, clock, "--id-file", ids, "--group", "all");
  assert.equal(both.code, 2);
  assert.match(both.stderr, /either --group or an ID cohort/);

  const auto = await exportRun(
    server,
    dir,
    clock,
    "--type",
    "Patient,Condition",
    "--mrn-file",
    ids,
    "--mrn-system",
    "urn:oid:1.2.3.4",
  );
  assert.equal(auto.code, 0, `the old flag names are accepted and crawl\n${auto.stderr}`);
  assert.equal(server.requests.filter((r) => r.kind === "kickoff").length, 0, "no bulk export");
  const sub = join(dir, (await subfolders(dir))[0]!);
  const patients = (await readResources(join(sub, "Patient.ndjson.gz"))).map((p) => p.id).sort();
  assert.deepEqual(patients, ["pat-0001", "pat-0002"]);
  await assertSubfoldersReadable(dir);

  const noHeader = join(out.path, "bad.csv");
  await Deno.writeTextFile(noHeader, "name\nx\n");
  const bad = await exportRun(server, dir, clock, "--id-file", noHeader);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /has no 'id' or 'mrn' header/);
});

Deno.test("on Epic, auto mode crawls; --export-mode bulk still bulk exports", async () => {
  await using server = await FakeFhirServer.start({
    patients: 2,
    software: { name: "Epic" },
    pollsUntilReady: 0,
  });
  await using out = await tempDir();
  const clock = new FakeClock();
  const crawled = join(out.path, "crawled");
  const auto = await exportRun(server, crawled, clock, "--type", "Patient,Condition");
  assert.equal(auto.code, 0, auto.stderr);
  assert.match(auto.stderr, /Epic server detected\. Defaulting to a 'crawl'/);
  // The cohort: a system-level bulk export of Patient, then per-patient searches.
  const kicks = server.requests.filter((r) => r.kind === "kickoff");
  assert.equal(kicks.length, 1);
  assert.match(kicks[0]!.query, /_type=Patient$/);
  assert.ok(server.requests.some((r) => r.kind === "search" && r.path.endsWith("/Condition")));
  const dir = join(out.path, "epic");
  const bulk = await exportRun(
    server,
    dir,
    clock,
    "--type",
    "Patient,Observation",
    "--export-mode",
    "bulk",
  );
  assert.equal(bulk.code, 0, bulk.stderr);
  const kick = server.requests.filter((r) => r.kind === "kickoff").at(-1)!;
  assert.match(
    decodeURIComponent(kick.query),
    /category=social-history%2Cvital-signs%2Cimaging%2Claboratory%2Csurvey%2Cexam(&|$)/,
  );
  await assertSubfoldersReadable(dir);
  await assertSubfoldersReadable(crawled);
});

Deno.test("two runs on one folder: the second refuses, naming the holder, and writes nothing", async () => {
  await using server = await FakeFhirServer.start({ patients: 2, pollsUntilReady: 0 });
  await using out = await tempDir();
  const dir = join(out.path, "m");
  const clock = new FakeClock();
  assert.equal((await exportRun(server, dir, clock, "--type", "Patient")).code, 0);
  const lock = await FolderLock.acquire(dir, "export", Date.now());
  try {
    const tree = await snapshot(dir);
    const second = await exportRun(server, dir, clock, "--type", "Patient,Condition");
    assert.equal(second.code, 4);
    assert.match(
      second.stderr,
      new RegExp(`in use by another smart-fetch run \\(pid ${Deno.pid} on `),
    );
    assert.equal(await snapshot(dir), tree);
    assert.equal((await subfolders(dir)).length, 1);
  } finally {
    await lock.release();
  }
  assert.equal(
    (await exportRun(server, dir, clock, "--type", "Patient,Condition")).code,
    0,
    "free again",
  );
  await assertSubfoldersReadable(dir);
});

Deno.test("--hydration-tasks: names are checked; help lists them", async () => {
  await using server = await FakeFhirServer.start({ patients: 1 });
  await using out = await tempDir();
  const clock = new FakeClock();
  const help = await exportRun(server, join(out.path, "x"), clock, "--hydration-tasks", "help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /practitioner/);
  const bad = await exportRun(server, join(out.path, "x"), clock, "--hydration-tasks", "meds");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown hydration task "meds"/);
});
