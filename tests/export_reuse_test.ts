/** `export`: SMART Fetch's reuse-or-create rules, its messages, and both .metadata files. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { localDate } from "../src/log/time_format.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { runCli } from "./helpers/cli.ts";
import { assertCumulusReadable } from "./helpers/cumulus.ts";
import { metadata, tempDir } from "./helpers/folder.ts";
import { assertSubfoldersReadable, exportRun, snapshot, subfolders } from "./helpers/managed.ts";

const TYPES = ["--type", "Patient,Condition"];

Deno.test("a first export creates the managed folder, 001.<date>, and both .metadata files", async () => {
  await using server = await FakeFhirServer.start({ patients: 4, pollsUntilReady: 1 });
  await using out = await tempDir();
  const dir = join(out.path, "cohort");
  const clock = new FakeClock();
  const r = await exportRun(server, dir, clock, "--group", "even", ...TYPES);
  assert.equal(r.code, 0, r.stderr);
  const today = localDate(clock.now());
  assert.match(r.stderr, new RegExp(`Creating new subfolder '001\\.${today}'\\.`));
  assert.deepEqual(await subfolders(dir), [`001.${today}`]);

  const top = await metadata(dir);
  assert.deepEqual(Object.keys(top).filter((k) => k !== "capabilities").sort(), [
    "fhir-url",
    "group",
    "kind",
    "timestamp",
    "version",
  ]);
  assert.equal(top.kind, "managed");
  assert.equal(top["fhir-url"], server.baseUrl);
  assert.equal(top.group, "even");

  const sub = await metadata(join(dir, `001.${today}`));
  assert.equal(sub.kind, "output");
  assert.deepEqual(sub.filters, { Patient: [], Condition: [] });
  assert.equal(sub.since, null);
  assert.deepEqual(Object.keys(sub.done as object).sort(), ["Condition", "Patient"]);
  assert.equal(sub.complete, true);
  assert.equal(sub["bulk-status"], undefined);
  assert.equal(sub.newPatients, undefined, "nothing to compare with on a first export");
  assert.match(String(sub.timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$/);
  await assertSubfoldersReadable(dir);
  const view = await assertCumulusReadable(join(dir, `001.${today}`));
  assert.equal(view.group, "even", "log.ndjson names the Group for Cumulus ETL");
  assert.match(String(view.exportUrl), /^http:\/\/127\.0\.0\.1:\d+\/fhir\/Group\/even\/\$export\?/);
});

Deno.test("reuse or create: SMART Fetch's table, with its messages", async () => {
  await using server = await FakeFhirServer.start({ patients: 3, pollsUntilReady: 0 });
  await using out = await tempDir();
  const dir = join(out.path, "m");
  const clock = new FakeClock();
  const today = localDate(clock.now());
  const kickoffs = () => server.requests.filter((r) => r.kind === "kickoff").length;

  // Same arguments: the newest subfolder is reused; complete, so a fast no-op without the server.
  assert.equal((await exportRun(server, dir, clock, ...TYPES)).code, 0);
  const before = server.requests.length;
  const same = await exportRun(server, dir, clock, ...TYPES);
  assert.equal(same.code, 0);
  assert.match(
    same.stdout,
    new RegExp(`Re-using existing subfolder '001\\.${today}' with similar arguments\\.`),
  );
  assert.match(same.stdout, /already complete; nothing to do/);
  assert.equal(
    server.requests.length,
    before,
    "a completed export's rerun does not touch the server",
  );
  // The export mode is not part of the context.
  assert.match(
    (await exportRun(server, dir, clock, ...TYPES, "--export-mode", "bulk")).stdout,
    /Re-using/,
  );

  const cases: [string, string[]][] = [
    ["other types", ["--type", "Patient"]],
    ["a filter", [...TYPES, "--type-filter", "Condition?code=x"]],
    ["a since", [...TYPES, "--since", "2024-01-01"]],
    ["another since mode", [...TYPES, "--since", "2024-01-01", "--since-mode", "created"]],
  ];
  let n = 1;
  for (const [what, flags] of cases) {
    const r = await exportRun(server, dir, clock, ...flags);
    n++;
    const name = `${String(n).padStart(3, "0")}.${today}`;
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`Creating new subfolder '${name.replace(".", "\\.")}'`),
      what,
    );
  }
  assert.equal((await subfolders(dir)).length, 5);

  // Nicknames: a new one creates; the newest is reused; an older one is refused before writing.
  const nick = await exportRun(server, dir, clock, ...TYPES, "--nickname", "2026-03");
  assert.match(nick.stderr, /Creating new subfolder '006\.2026-03'/);
  const k = kickoffs();
  const again = await exportRun(server, dir, clock, ...TYPES, "--nickname", "2026-03");
  assert.match(again.stdout, /Re-using existing subfolder '006\.2026-03' with the same nickname\./);
  assert.equal(kickoffs(), k);
  assert.equal((await exportRun(server, dir, clock, ...TYPES, "--nickname", "later")).code, 0);
  let tree = await snapshot(dir);
  // Job arrays rerun finished tasks: an older but complete nickname is a no-op that succeeds.
  const done = await exportRun(server, dir, clock, ...TYPES, "--nickname", "2026-03");
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /006\.2026-03 is already complete; nothing to do/);
  assert.equal(kickoffs(), k + 1, "no new export for the finished one");
  assert.equal(await snapshot(dir), tree, "nothing written");
  // Only resuming an unfinished older subfolder is refused.
  const meta006 = join(dir, "006.2026-03", ".metadata");
  const unfinished = JSON.parse(await Deno.readTextFile(meta006));
  delete unfinished.complete;
  await Deno.writeTextFile(meta006, JSON.stringify(unfinished, null, 2));
  tree = await snapshot(dir);
  const old = await exportRun(server, dir, clock, ...TYPES, "--nickname", "2026-03");
  assert.equal(old.code, 2);
  assert.match(
    old.stderr,
    /Existing subfolder '006\.2026-03' with the same nickname is too old to resume\. Choose a new nickname\./,
  );
  assert.equal(await snapshot(dir), tree, "nothing written");
  // Reusing the newest nickname with other types: the folder's arguments differ.
  const differ = await exportRun(server, dir, clock, "--type", "Condition", "--nickname", "later");
  assert.equal(differ.code, 2);
  assert.match(
    differ.stderr,
    /is for a different set of types and\/or filters\. Expected:\n {2}Condition \(no filter\)\n\nbut found:/,
  );
  assert.equal(await snapshot(dir), tree, "nothing written");
  await assertSubfoldersReadable(dir);
});

Deno.test("a different server or Group, or a plain output folder, is refused before anything is written", async () => {
  await using server = await FakeFhirServer.start({ patients: 2, pollsUntilReady: 0 });
  await using other = await FakeFhirServer.start({ patients: 2, pollsUntilReady: 0 });
  await using out = await tempDir();
  const dir = join(out.path, "m");
  const clock = new FakeClock();
  assert.equal((await exportRun(server, dir, clock, "--group", "even", ...TYPES)).code, 0);
  const tree = await snapshot(dir);

  const url = await exportRun(other, dir, clock, "--group", "even", ...TYPES);
  assert.equal(url.code, 2);
  assert.match(
    url.stderr,
    new RegExp(
      `is for a different FHIR URL\\.\\nExpected ${other.baseUrl}\\nBut found ${server.baseUrl}`,
    ),
  );
  const group = await exportRun(server, dir, clock, "--group", "odd", ...TYPES);
  assert.equal(group.code, 2);
  assert.match(group.stderr, /is for a different Group\.\nExpected odd, but found even\./);
  const none = await exportRun(server, dir, clock, ...TYPES);
  assert.match(none.stderr, /Expected no Group, but found even/);
  assert.equal(await snapshot(dir), tree, "nothing written");
  assert.equal(other.requests.filter((r) => r.kind === "kickoff").length, 0);

  // export into a plain output folder, and bulk into a managed one.
  const plain = join(out.path, "plain");
  assert.equal(
    (await runCli(["bulk", "--fhir-url", server.baseUrl, ...TYPES, plain], { clock })).code,
    0,
  );
  const e1 = await exportRun(server, plain, clock, ...TYPES);
  assert.equal(e1.code, 2);
  assert.match(e1.stderr, /is not a managed folder, but an output folder/);
  const e2 = await runCli(["bulk", "--fhir-url", server.baseUrl, ...TYPES, dir], { clock });
  assert.equal(e2.code, 2);
  assert.match(e2.stderr, /is a managed export folder/);
});
