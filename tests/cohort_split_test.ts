/**
 * `cohort split`: groups stable across three simulated quarters, atomic writes that survive a
 * SIGKILL at any moment, and clear errors for bad input. Runs the real program.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { readGroups, writeGroups } from "../src/cohort/group_dir.ts";
import { arraySpec, planSplit } from "../src/cohort/split.ts";
import { runCli, runCliProcess, spawnCli } from "./helpers/cli.ts";
import { FakeClock } from "../src/clock.ts";
import { sleep, tempDir } from "./helpers/folder.ts";
import { testRandom, withReplayHint } from "./helpers/seed.ts";

const mrns = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `M${String(from + i).padStart(7, "0")}`);

async function split(file: string, into: string, ...extra: string[]) {
  return await runCli(["cohort", "split", file, "--into", into, ...extra], {
    clock: new FakeClock(),
  });
}

/** Every group file of `dir` and its IDs. */
async function groups(dir: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const g of await readGroups(dir, "MRN-")) out[g.name] = g.ids;
  return out;
}

Deno.test("cohort split: three quarters keep every MRN in its group, drop the gone, add new groups", async () => {
  await using tmp = await tempDir();
  const into = join(tmp.path, "groups");
  const list = join(tmp.path, "mrns.txt");

  // Quarter 1: 2,500 MRNs in groups of 1,000.
  await Deno.writeTextFile(list, mrns(1, 2500).join("\n") + "\n");
  const q1 = await split(list, into, "--size", "1000");
  assert.equal(q1.code, 0, q1.stderr);
  const g1 = await groups(into);
  assert.deepEqual(Object.keys(g1), ["MRN-000", "MRN-001", "MRN-002"]);
  assert.deepEqual(g1["MRN-002"], mrns(2001, 2500));
  assert.match(q1.stdout, /new +2,500 ID\(s\) in 3 new group\(s\): MRN-000, MRN-001, MRN-002/);
  assert.match(q1.stdout, /--array=0-2$/m);

  // Quarter 2, a CSV: 1..100 and 2401..2450 left, 2501..3700 arrived, order shuffled, a duplicate.
  const q2ids = [...mrns(2501, 3700), ...mrns(101, 2400).reverse(), ...mrns(2451, 2500)];
  await Deno.writeTextFile(
    join(tmp.path, "q2.csv"),
    "name,MRN\n" + [...q2ids, "M0000500"].map((m) => `"Doe, J",${m}`).join("\n") + "\n",
  );
  const q2 = await split(join(tmp.path, "q2.csv"), into, "--size", "1000");
  assert.equal(q2.code, 0, q2.stderr);
  const g2 = await groups(into);
  assert.deepEqual(Object.keys(g2), ["MRN-000", "MRN-001", "MRN-002", "MRN-003", "MRN-004"]);
  // Kept MRNs stay, in their old order; the gone are removed; new ones fill new groups.
  assert.deepEqual(g2["MRN-000"], mrns(101, 1000));
  assert.deepEqual(g2["MRN-001"], g1["MRN-001"]);
  assert.deepEqual(g2["MRN-002"], [...mrns(2001, 2400), ...mrns(2451, 2500)]);
  assert.deepEqual(g2["MRN-003"], mrns(2501, 3500));
  assert.deepEqual(g2["MRN-004"], mrns(3501, 3700));
  assert.match(q2.stdout, /kept +2,350 ID\(s\) in their groups \(3 existing group\(s\)\)/);
  assert.match(q2.stdout, /removed +150 ID\(s\) no longer in the list, from 2 group\(s\)/);
  assert.match(q2.stdout, /new +1,200 ID\(s\) in 2 new group\(s\): MRN-003, MRN-004/);
  assert.match(q2.stdout, /ignored +1 duplicate\(s\) and 0 blank line\(s\)/);
  assert.match(q2.stdout, /Wrote 4 group file\(s\)/);
  const mtime = (await Deno.stat(join(into, "MRN-001"))).mtime;

  // Quarter 3: a smaller --size for new groups; every MRN of MRN-004 leaves; blank lines.
  const q3ids = [...mrns(101, 2400), ...mrns(2451, 3500), ...mrns(5001, 5250)];
  await Deno.writeTextFile(list, "\n" + q3ids.join("\r\n") + "\r\n\r\n");
  const q3 = await split(list, into, "--size", "100");
  assert.equal(q3.code, 0, q3.stderr);
  const g3 = await groups(into);
  assert.deepEqual(Object.keys(g3), [
    "MRN-000",
    "MRN-001",
    "MRN-002",
    "MRN-003",
    "MRN-004",
    "MRN-005",
    "MRN-006",
    "MRN-007",
  ]);
  for (const name of ["MRN-000", "MRN-001", "MRN-002", "MRN-003"]) {
    assert.deepEqual(g3[name], g2[name], name);
  }
  // Emptied, not renumbered: the numbers of later groups never shift.
  assert.deepEqual(g3["MRN-004"], []);
  assert.deepEqual(g3["MRN-005"], mrns(5001, 5100));
  assert.deepEqual(g3["MRN-007"], mrns(5201, 5250));
  assert.match(q3.stdout, /note: MRN-004 is now empty/);
  assert.match(q3.stdout, /ignored +0 duplicate\(s\) and 2 blank line\(s\)/);
  assert.match(q3.stdout, /--array=0-7$/m);
  // Untouched groups are not rewritten.
  assert.deepEqual((await Deno.stat(join(into, "MRN-001"))).mtime, mtime);
  // Every MRN of the list is in exactly one group.
  const all = Object.values(g3).flat();
  assert.equal(all.length, new Set(all).size);
  assert.deepEqual(new Set(all), new Set(q3ids));

  // The same list again changes nothing; --dry-run writes nothing.
  const again = await split(list, into, "--size", "100");
  assert.match(again.stdout, /No group file changed/);
  await Deno.writeTextFile(list, mrns(1, 10).join("\n"));
  const dry = await split(list, into, "--dry-run");
  assert.match(dry.stdout, /Dry run: nothing written/);
  assert.deepEqual(await groups(into), g3);
});

Deno.test("cohort split: a run stopped after any number of writes plans the same groups again", async () => {
  await using tmp = await tempDir();
  const existing = [
    { name: "MRN-000", number: 0, ids: mrns(1, 10) },
    { name: "MRN-001", number: 1, ids: mrns(11, 20) },
  ];
  const ids = [...mrns(5, 15), ...mrns(21, 58)];
  const full = planSplit(existing, ids, { size: 10 });
  const changed = full.groups.filter((g) => g.change !== "same");
  assert.equal(changed.length, 6);
  for (let done = 0; done <= changed.length; done++) {
    const dir = join(tmp.path, `stop-${done}`);
    await writeGroups(dir, { ...full, groups: existing.map((g) => ({ ...g, change: "new" })) });
    await writeGroups(dir, { ...full, groups: changed.slice(0, done) });
    const again = planSplit(await readGroups(dir, "MRN-"), ids, { size: 10 });
    await writeGroups(dir, again);
    assert.deepEqual(
      await groups(dir),
      Object.fromEntries(full.groups.map((g) => [g.name, g.ids])),
      `stopped after ${done} write(s)`,
    );
  }
});

Deno.test("cohort split: SIGKILL at random (seeded) moments, then the same command, gives the same groups", async () => {
  const rng = testRandom();
  await withReplayHint(rng, async () => {
    await using tmp = await tempDir();
    const list = join(tmp.path, "mrns.txt");
    await Deno.writeTextFile(list, mrns(1, 60_000).join("\n"));
    const args = (into: string) => ["cohort", "split", list, "--size", "200", "--into", into];
    const ref = join(tmp.path, "ref");
    assert.equal((await runCliProcess(args(ref))).code, 0);
    const killed = join(tmp.path, "killed");
    for (let round = 0; round < 4; round++) {
      const child = spawnCli(args(killed));
      await sleep(rng.int(50, 700));
      try {
        child.kill("SIGKILL");
      } catch {
        // Finished already.
      }
      await child.output();
      // Whatever the moment, every group file there is whole.
      for (const [name, ids] of Object.entries(await groups(killed))) {
        assert.ok(ids.length === 200, `${name} holds ${ids.length} IDs after a kill`);
      }
    }
    const last = await runCliProcess(args(killed));
    assert.equal(last.code, 0, last.stderr);
    assert.deepEqual(await groups(killed), await groups(ref));
    const names = [...Deno.readDirSync(killed)].map((e) => e.name);
    assert.deepEqual(names.filter((n) => !/^MRN-\d{3}$/.test(n)), []);
  });
});

Deno.test("cohort split: bad input gets one clear line, exit 2, and no group file", async () => {
  await using tmp = await tempDir();
  const into = join(tmp.path, "groups");
  const cases: [string, string | Uint8Array, RegExp][] = [
    ["two.txt", "M1\nM2,M3\n", /"[^"]*two\.txt" line 2 holds more than one value \("M2,M3"\)/],
    ["tokens.txt", "urn:oid:1|M1\n", /line 1 holds more than one value .* --id-system/],
    ["nul.txt", "M1\nM\u00002\n", /line 2 holds a control character/],
    ["latin1.txt", new Uint8Array([0x4d, 0xe9, 0x0a]), /is not UTF-8 text/],
    ["empty.txt", "\n\n", /holds no IDs: refusing to empty every group/],
    ["noheader.csv", "M1\nM2\n", /has no 'id' or 'mrn' header/],
    ["quote.csv", 'mrn\n"M1\n', /is not valid CSV/],
  ];
  for (const [name, content, message] of cases) {
    const file = join(tmp.path, name);
    if (typeof content === "string") await Deno.writeTextFile(file, content);
    else await Deno.writeFile(file, content);
    const r = await split(file, into);
    assert.equal(r.code, 2, name);
    assert.match(r.stderr, message, name);
    assert.equal(r.stderr.trim().split("\n").length, 1, `${name}: ${r.stderr}`);
  }
  assert.deepEqual(await groups(into), {});

  const ok = join(tmp.path, "ok.txt");
  await Deno.writeTextFile(ok, "M1\nM2\n");
  const usage: [string[], RegExp][] = [
    [["--size", "0"], /--size "0" is not a whole number/],
    [["--prefix", "a/b"], /--prefix "a\/b" cannot name group files/],
    [[join(tmp.path, "missing.txt")], /Cannot read the ID file .*missing\.txt": no such file/],
  ];
  for (const [extra, message] of usage) {
    const file = extra[0]!.endsWith(".txt") ? extra[0]! : ok;
    const flags = extra[0]!.endsWith(".txt") ? [] : extra;
    const r = await split(file, into, ...flags);
    assert.equal(r.code, 2, extra.join(" "));
    assert.match(r.stderr, message);
  }

  // An MRN in two group files (edited by hand) is named, not silently moved.
  await Deno.mkdir(into, { recursive: true });
  await Deno.writeTextFile(join(into, "MRN-000"), "M1\n");
  await Deno.writeTextFile(join(into, "MRN-001"), "M2\nM1\n");
  const both = await split(ok, into);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /ID "M1" is in both group MRN-000 and group MRN-001/);
});

Deno.test("arraySpec folds numbers into Slurm ranges", () => {
  assert.equal(arraySpec([0, 1, 2, 3]), "0-3");
  assert.equal(arraySpec([7, 0, 1, 3, 9, 10, 11, 3]), "0-1,3,7,9-11");
  assert.equal(arraySpec([]), "");
});
