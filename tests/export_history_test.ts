/**
 * `export` over time: symlink numbering across full and --since exports, `--since auto`,
 * deletions computed into deleted/, and newPatients.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { runCli } from "./helpers/cli.ts";
import { assertCumulusReadable } from "./helpers/cumulus.ts";
import { listFiles, metadata, tempDir } from "./helpers/folder.ts";
import {
  assertSubfoldersReadable,
  deletedIds,
  exportRun,
  links,
  subfolders,
} from "./helpers/managed.ts";

const DAY = 86_400_000;

Deno.test("symlinks across a full export, two --since exports and an unfiltered full export", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({
    patients: 6,
    resourcesPerFile: 8,
    pollsUntilReady: 0,
    now: () => clock.now(),
  });
  await using out = await tempDir();
  const dir = join(out.path, "m");
  const types = ["--type", "Patient,Condition", "--hydration-tasks", "none"];
  assert.equal((await exportRun(server, dir, clock, ...types, "--nickname", "full")).code, 0);
  const first = await links(dir);
  assert.deepEqual([...first.keys()].filter((k) => k.startsWith("Condition.")), [
    "Condition.001.ndjson.gz",
    "Condition.002.ndjson.gz",
  ]);
  assert.equal(first.get("Condition.001.ndjson.gz"), "001.full/Condition.001.ndjson.gz");

  // Two incremental exports: changed Conditions arrive; links keep the full export and add them.
  clock.advance(DAY);
  const conditions = server.resources("Condition").slice(0, 3).map((c) => `Condition/${c.id}`);
  server.mutate({ touch: conditions });
  clock.advance(DAY);
  const s1 = await exportRun(
    server,
    dir,
    clock,
    ...types,
    "--since",
    "auto",
    "--nickname",
    "since1",
  );
  assert.equal(s1.code, 0, s1.stderr);
  assert.match(s1.stderr, /Using since value of '.+' for all types\./);
  const sinceTimes = (await metadata(join(dir, "002.since1"))).sinceTimes as Record<string, string>;
  assert.deepEqual(Object.keys(sinceTimes).sort(), ["Condition", "Patient"]);
  assert.match(sinceTimes.Condition!, /^\d{4}-\d\d-\d\dT/, "the resolved time, not 'auto'");
  clock.advance(DAY);
  server.mutate({ touch: [conditions[0]!] });
  clock.advance(DAY);
  assert.equal(
    (await exportRun(server, dir, clock, ...types, "--since", "auto", "--nickname", "since2")).code,
    0,
  );
  const kicks = server.requests.filter((r) => r.kind === "kickoff");
  assert.match(kicks[1]!.query, /_since=/, "the since exports sent _since");
  const afterSince = await links(dir);
  const conditionLinks = [...afterSince].filter(([k]) => k.startsWith("Condition."));
  assert.deepEqual(conditionLinks.map(([, t]) => t), [
    "001.full/Condition.001.ndjson.gz",
    "001.full/Condition.002.ndjson.gz",
    "002.since1/Condition.001.ndjson.gz",
    "003.since2/Condition.001.ndjson.gz",
  ]);
  assert.deepEqual(conditionLinks.map(([k]) => k), [
    "Condition.001.ndjson.gz",
    "Condition.002.ndjson.gz",
    "Condition.003.ndjson.gz",
    "Condition.004.ndjson.gz",
  ]);
  // An incremental Patient export does not make unchanged patients look deleted.
  for (const sub of ["002.since1", "003.since2"]) {
    assert.ok(!(await listFiles(join(dir, sub))).some((f) => f.startsWith("deleted/")), sub);
  }

  // A new unfiltered full export replaces them all.
  clock.advance(DAY);
  assert.equal((await exportRun(server, dir, clock, ...types, "--nickname", "refresh")).code, 0);
  const refreshed = await links(dir);
  assert.ok(
    [...refreshed.values()].every((t) => t.startsWith("004.refresh/")),
    [...refreshed.values()].join(),
  );
  assert.equal([...refreshed.keys()].filter((k) => k.startsWith("Condition.")).length, 2);
  assert.ok(
    ![...refreshed.keys()].some((k) => k.startsWith("Condition.003")),
    "stale links removed",
  );

  // reset-symlinks rebuilds the same links after they are damaged; real files are left alone.
  await Deno.remove(join(dir, "Condition.001.ndjson.gz"));
  await Deno.symlink("001.full/Patient.001.ndjson.gz", join(dir, "Condition.009.ndjson.gz"));
  await Deno.writeTextFile(join(dir, "Condition.notes.txt"), "mine");
  const reset = await runCli(["reset-symlinks", dir], { clock });
  assert.equal(reset.code, 0, reset.stderr);
  assert.deepEqual(await links(dir), refreshed);
  assert.equal(await Deno.readTextFile(join(dir, "Condition.notes.txt")), "mine");
  await assertSubfoldersReadable(dir);
});

Deno.test("reset-symlinks refuses a folder that is not managed", async () => {
  await using out = await tempDir();
  const r = await runCli(["reset-symlinks", out.path], { clock: new FakeClock() });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /does not look like a SMART Fetch managed export folder/);
});

Deno.test("different filters coexist in the links until an unfiltered full export", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({
    patients: 4,
    pollsUntilReady: 0,
    now: () => clock.now(),
  });
  await using out = await tempDir();
  const dir = join(out.path, "m");
  const obs = (filter: string, nick: string) =>
    exportRun(
      server,
      dir,
      clock,
      "--type",
      "Observation",
      "--type-filter",
      filter,
      "--nickname",
      nick,
      "--hydration-tasks",
      "none",
    );
  assert.equal((await obs("Observation?category=laboratory", "labs")).code, 0);
  assert.equal((await obs("Observation?category=vital-signs", "vitals")).code, 0);
  const both = [...(await links(dir)).values()];
  assert.ok(
    both.some((t) => t.startsWith("001.labs/")) && both.some((t) => t.startsWith("002.vitals/")),
  );
  assert.equal(
    (await exportRun(
      server,
      dir,
      clock,
      "--type",
      "Observation",
      "--no-default-filters",
      "--nickname",
      "all",
      "--hydration-tasks",
      "none",
    )).code,
    0,
  );
  assert.ok([...(await links(dir)).values()].every((t) => t.startsWith("003.all/")));
  await assertSubfoldersReadable(dir);
});

Deno.test("deletions: ids gone since the previous full export go to deleted/Bundle.<Type>.ndjson.gz", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({
    patients: 5,
    pollsUntilReady: 0,
    now: () => clock.now(),
  });
  await using out = await tempDir();
  const dir = join(out.path, "m");
  const types = ["--type", "Patient,Condition,Encounter", "--hydration-tasks", "none"];
  assert.equal((await exportRun(server, dir, clock, ...types, "--nickname", "q1")).code, 0);
  const goneCondition = server.resources("Condition")[1]!.id;
  server.mutate({ remove: [`Condition/${goneCondition}`, "Patient/pat-0003"] });
  clock.advance(DAY);
  const r = await exportRun(server, dir, clock, ...types, "--nickname", "q2");
  assert.equal(r.code, 0, r.stderr);
  const q2 = join(dir, "002.q2");
  const files = (await listFiles(q2)).filter((f) => f.startsWith("deleted/"));
  assert.ok(files.includes("deleted/Bundle.Condition.ndjson.gz"), files.join());
  assert.ok(files.includes("deleted/Bundle.Patient.ndjson.gz"));
  const deletedConditions = await deletedIds(join(q2, "deleted/Bundle.Condition.ndjson.gz"));
  assert.ok(deletedConditions.includes(`Condition/${goneCondition}`));
  // The removed patient's Conditions went with it.
  assert.ok(
    deletedConditions.every((u) =>
      !server.resources("Condition").some((c) => `Condition/${c.id}` === u)
    ),
  );
  assert.deepEqual(await deletedIds(join(q2, "deleted/Bundle.Patient.ndjson.gz")), [
    "Patient/pat-0003",
  ]);
  assert.match(r.stderr, /Count of deleted Condition resources: \d+\./);
  await assertSubfoldersReadable(dir);
  const view = await assertCumulusReadable(q2);
  assert.ok(view.deleted.get("Patient")?.has("pat-0003"), "Cumulus ETL applies the deletion");
});

Deno.test("newPatients: a patient new since the last export is recorded, in full and since exports", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({
    patients: 4,
    pollsUntilReady: 0,
    now: () => clock.now(),
  });
  await using out = await tempDir();
  const dir = join(out.path, "m");
  const types = ["--type", "Patient,Condition", "--hydration-tasks", "none"];
  assert.equal((await exportRun(server, dir, clock, ...types, "--nickname", "first")).code, 0);
  clock.advance(DAY);
  const template = server.resources("Patient")[0]!;
  server.mutate({ add: [{ ...template, id: "pat-0099", meta: {} }] });
  clock.advance(DAY);
  const since = await exportRun(
    server,
    dir,
    clock,
    ...types,
    "--since",
    "auto",
    "--nickname",
    "since",
  );
  assert.equal(since.code, 0, since.stderr);
  assert.deepEqual((await metadata(join(dir, "002.since"))).newPatients, ["pat-0099"]);
  assert.match(since.stderr, /Count of new patients: 1\./);
  clock.advance(DAY);
  server.mutate({ add: [{ ...template, id: "pat-0100", meta: {} }] });
  const full = await exportRun(server, dir, clock, ...types, "--nickname", "full");
  assert.equal(full.code, 0, full.stderr);
  assert.deepEqual((await metadata(join(dir, "003.full"))).newPatients, ["pat-0100"]);
  assert.deepEqual(await subfolders(dir), ["001.first", "002.since", "003.full"]);
  await assertSubfoldersReadable(dir);
});

Deno.test("--since auto with no earlier export is an error that says what to do", async () => {
  await using server = await FakeFhirServer.start({ patients: 2, pollsUntilReady: 0 });
  await using out = await tempDir();
  const dir = join(out.path, "m");
  const r = await exportRun(server, dir, new FakeClock(), "--since", "auto");
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /Could not detect a since value to use from previous exports\.\nTry without a --since parameter, or provide a specific timestamp\./,
  );
  assert.equal(server.requests.filter((x) => x.kind === "kickoff").length, 0);
});
