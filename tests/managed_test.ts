/** Managed-folder building blocks: subfolder order past 999, id index, since-auto coverage. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { covers } from "../src/workspace/history.ts";
import { IdIndex } from "../src/workspace/id_index.ts";
import { chooseSubfolder, listSubfolders, nextSubfolderName } from "../src/workspace/managed.ts";
import { typeOfFileName } from "../src/workspace/data_files.ts";
import { tempDir } from "./helpers/folder.ts";

Deno.test("subfolder numbers sort numerically past 999, and the next one follows the highest", async () => {
  await using out = await tempDir();
  for (const name of ["998.a", "999.b", "1000.c", "1001.d", "notes", "12x.e"]) {
    await Deno.mkdir(join(out.path, name));
  }
  const subs = await listSubfolders(out.path);
  assert.deepEqual(subs.map((s) => s.name), ["998.a", "999.b", "1000.c", "1001.d"]);
  assert.equal(nextSubfolderName(subs, "2026-03"), "1002.2026-03");
  assert.equal(nextSubfolderName([], "initial"), "001.initial");
  const request = {
    filters: {},
    since: null,
    sinceMode: undefined,
    types: [],
    today: "2026-11-25",
  };
  // 1001.d is the newest even though "999.b" sorts last as text.
  assert.equal(chooseSubfolder(subs, { ...request, nickname: "d" }).reuse, true);
  assert.throws(
    () => chooseSubfolder(subs, { ...request, nickname: "b" }),
    /'999\.b' .* too old to resume/,
  );
});

Deno.test("the id index finds what was added and nothing else, across growth", () => {
  const index = new IdIndex();
  for (let i = 0; i < 5000; i++) index.add(`obs-${i}`);
  assert.equal(index.size, 5000);
  for (let i = 0; i < 5000; i += 97) assert.ok(index.has(`obs-${i}`));
  for (let i = 5000; i < 10000; i += 89) assert.ok(!index.has(`obs-${i}`));
  index.add("late");
  assert.ok(index.has("late") && index.has("obs-0"));
});

Deno.test("--since auto coverage follows SMART Fetch: filters OR-ed, unfiltered only for unfiltered", () => {
  assert.ok(covers([], []));
  assert.ok(covers(["category=a", "category=b"], ["category=a"]));
  assert.ok(!covers(["category=a"], ["category=a", "category=b"]));
  assert.ok(
    !covers([], ["category=a"]),
    "an unfiltered export does not count for a filtered request",
  );
  assert.ok(!covers(["category=a"], []));
});

Deno.test("file names give their type the way Cumulus ETL reads them", () => {
  assert.equal(typeOfFileName("Observation.results.ndjson.gz"), "Observation");
  assert.equal(typeOfFileName("Condition.001.ndjson"), "Condition");
  assert.equal(typeOfFileName("Bundle.Condition.ndjson.gz"), undefined, "two type words");
  assert.equal(typeOfFileName("notes.ndjson"), undefined);
});
