/**
 * `bundle` is crash-safe: killed at any moment and run again, a folder ends with one Bundle
 * holding every resource once and no source file left; never with the resources lost, and
 * never stuck on "already exists" after its own interrupted run.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { notePending, PENDING_NAME } from "../src/workspace/bundle_pending.ts";
import { runAndKill, runCliProcess } from "./helpers/cli.ts";
import { listFiles, tempDir } from "./helpers/folder.ts";
import { testRandom, withReplayHint } from "./helpers/seed.ts";

const FILES = 300;
const PER_FILE = 100;

/** Source files `Observation.NNN.ndjson`, FILES of them, PER_FILE resources each. */
async function writeSources(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (let f = 0; f < FILES; f++) {
    const rows = Array.from(
      { length: PER_FILE },
      (_, i) => JSON.stringify({ resourceType: "Observation", id: `o-${f}-${i}`, status: "final" }),
    );
    await Deno.writeTextFile(
      join(dir, `Observation.${String(f).padStart(3, "0")}.ndjson`),
      rows.join("\n") + "\n",
    );
  }
}

/** The ids in a folder's Bundle.json.gz (sorted), or [] when there is none. */
async function bundledIds(dir: string): Promise<string[]> {
  const bytes = await Deno.readFile(join(dir, "Bundle.json.gz")).catch(() => undefined);
  if (!bytes) return [];
  const bundle = JSON.parse(new TextDecoder().decode(gunzipSync(bytes)));
  return (bundle.entry as { resource: { id: string } }[]).map((e) => e.resource.id).sort();
}

/** The ids still in source files (sorted). */
async function sourceIds(dir: string): Promise<string[]> {
  const ids: string[] = [];
  for (const name of await listFiles(dir)) {
    if (!name.endsWith(".ndjson")) continue;
    for (const line of (await Deno.readTextFile(join(dir, name))).split("\n")) {
      if (line) ids.push(JSON.parse(line).id);
    }
  }
  return ids.sort();
}

Deno.test("bundle: SIGKILL at random (seeded) moments, then the same command, ends whole", async () => {
  const rng = testRandom();
  await withReplayHint(rng, async () => {
    await using out = await tempDir();
    const all = Array.from(
      { length: FILES * PER_FILE },
      (_, n) => `o-${Math.floor(n / PER_FILE)}-${n % PER_FILE}`,
    ).sort();
    const outcomes = new Set<string>();
    for (let round = 0; round < 10; round++) {
      const dir = join(out.path, `round-${round}`);
      await writeSources(dir);
      const delay = rng.int(100, 900);
      const status = await runAndKill(["bundle", dir], delay);
      const when = `round ${round}, killed at ${delay} ms (${rng.replay})`;
      // Whatever the moment, every resource is in the Bundle or still in its source file.
      const bundled = await bundledIds(dir);
      const left = await sourceIds(dir);
      assert.ok(bundled.length === 0 || bundled.length === all.length, when);
      assert.deepEqual(bundled.length ? bundled : left, all, when);
      outcomes.add(
        status.success ? "finished" : bundled.length ? "killed after the Bundle" : "killed before",
      );
      // The same command again: it finishes an interrupted run; after a whole run (or one killed
      // only after it had cleaned up) it is a second run, refused as SMART Fetch refuses it.
      const done = bundled.length > 0 && left.length === 0 &&
        !(await listFiles(dir)).includes(PENDING_NAME);
      const again = await runCliProcess(["bundle", dir]);
      if (done) {
        assert.equal(again.code, 2, `${when}: ${again.stdout}${again.stderr}`);
        assert.match(again.stderr, /Bundle file '.*' already exists\./, when);
      } else assert.equal(again.code, 0, `${when}: ${again.stderr}`);
      assert.deepEqual(await bundledIds(dir), all, when);
      assert.deepEqual(await listFiles(dir), ["Bundle.json.gz"], when);
    }
    console.log(`outcomes: ${[...outcomes].join(", ")}`);
  });
});

Deno.test("bundle: a rerun after a kill between the Bundle and the removals removes exactly the noted sources", async () => {
  await using out = await tempDir();
  const dir = join(out.path, "folder");
  await writeSources(dir);
  const names = (await listFiles(dir)).filter((n) => n.endsWith(".ndjson"));
  // The state such a kill leaves: the note, the committed Bundle, and the sources not removed yet.
  await notePending(dir, "Bundle.json.gz", names);
  const copy = join(out.path, "copy");
  await writeSources(copy);
  assert.equal((await runCliProcess(["bundle", copy])).code, 0);
  await Deno.copyFile(join(copy, "Bundle.json.gz"), join(dir, "Bundle.json.gz"));
  for (const name of names.slice(0, 100)) await Deno.remove(join(dir, name));
  // Since then, someone added a file and changed another: neither is in the Bundle.
  await Deno.writeTextFile(join(dir, "Condition.ndjson"), '{"resourceType":"Condition"}\n');
  await Deno.writeTextFile(join(dir, names.at(-1)!), '{"resourceType":"Observation"}\n');

  const r = await runCliProcess(["bundle", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^Finished an interrupted bundle of .*: .*Bundle\.json\.gz was written already; removed the 199 source file\(s\) still there\.\n$/,
  );
  assert.deepEqual(await listFiles(dir), ["Bundle.json.gz", "Condition.ndjson", names.at(-1)!]);
  assert.ok(!(await listFiles(dir)).includes(PENDING_NAME));
  // With the note gone, the files left are new to the Bundle: refused, as SMART Fetch does.
  const next = await runCliProcess(["bundle", dir]);
  assert.equal(next.code, 2);
  assert.match(next.stderr, /Bundle file '.*Bundle\.json\.gz' already exists\./);
});
