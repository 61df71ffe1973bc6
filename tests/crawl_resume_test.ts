/**
 * Crash safety of the crawl: SIGKILL the real program at 20+ seeded random moments, rerun the
 * same command each time, and the final folder holds exactly what an uninterrupted crawl holds,
 * with no duplicate ids, and no search that was journaled as done was ever sent again.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { runAndKill, runCliProcess } from "./helpers/cli.ts";
import { listFiles, readResources, tempDir } from "./helpers/folder.ts";
import { testRandom, withReplayHint } from "./helpers/seed.ts";
import { assertVerifies } from "./helpers/verify.ts";

/** Every data file: name -> sorted ids (crawl files are written in arrival order). */
async function sortedContents(dir: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const name of await listFiles(dir)) {
    if (!/\.ndjson(\.gz)?$/.test(name) || name === "log.ndjson" || name.startsWith("error/")) {
      continue;
    }
    const ids = (await readResources(join(dir, name))).map((r) => String(r.id));
    assert.equal(new Set(ids).size, ids.length, `${name} has duplicate ids`);
    out.set(name, ids.sort());
  }
  return out;
}

/** (type, patient) searches the journal of `dir` says are done. */
async function journaledDone(dir: string): Promise<Set<string>> {
  const done = new Set<string>();
  let text = "";
  try {
    text = await Deno.readTextFile(join(dir, ".crawl", "journal.txt"));
  } catch {
    return done;
  }
  for (const line of text.split("\n")) {
    try {
      const row = JSON.parse(line);
      for (const p of row.done ?? []) done.add(`${row.t}?patient=${p}`);
    } catch {
      // A line cut by the kill.
    }
  }
  return done;
}

/** Every committed file that looks complete must be complete (throws when not). */
async function checkCommitted(dir: string, when: string): Promise<void> {
  for (const name of await listFiles(dir).catch(() => [] as string[])) {
    if (/\.ndjson(\.gz)?$/.test(name) && name !== "log.ndjson") {
      await readResources(join(dir, name)).catch((err) => {
        throw new Error(`${when}: ${name} is not a complete NDJSON file: ${err.message}`);
      });
    }
  }
}

Deno.test("crawl: SIGKILL at 20+ random (seeded) moments, then the same command, gives the uninterrupted result", async () => {
  const rng = testRandom();
  await withReplayHint(rng, async () => {
    await using server = await FakeFhirServer.start({ patients: 200 });
    await using out = await tempDir();
    const ids = join(out.path, "cohort.txt");
    const mrns = Array.from({ length: 200 }, (_, i) => `MRN${String(i + 1).padStart(4, "0")}`);
    await Deno.writeTextFile(ids, mrns.join("\n") + "\n");
    const args = (dir: string, connections = 2) => [
      "crawl",
      "--max-connections",
      String(connections),
      "--fhir-url",
      server.baseUrl,
      "--id-system",
      "urn:oid:1.2.3.4",
      "--id-file",
      ids,
      "--type",
      "Patient,Condition,Observation,Encounter,Procedure,Immunization",
      dir,
    ];
    // The uninterrupted crawl, fast (the result does not depend on concurrency or timing).
    const reference = join(out.path, "reference");
    const ref = await runCliProcess(args(reference, 16));
    assert.equal(ref.code, 0, ref.stderr);
    const expected = await sortedContents(reference);
    assert.ok(expected.size >= 6, [...expected.keys()].join());
    // Then slow searches down so that a crawl lasts long enough for many kills (about 12 s of
    // searches at 2 connections).
    server.addFault({ target: "search", times: Infinity, fault: { kind: "latency", ms: 25 } });

    // Kill, rerun, kill... until 22 kills have landed. A crawl that finishes first (a fast
    // machine) is checked, and the kills go on in a fresh folder: the count never depends on speed.
    interface Kill {
      atMs: number;
      from: number;
      done: Set<string>;
      cohort: boolean;
    }
    let epoch: Kill[] = [];
    let killed = join(out.path, "killed-0");
    let total = 0;
    const finish = async () => {
      const when = `kills at ${epoch.map((k) => k.atMs).join(", ")} ms (${rng.replay})`;
      assert.deepEqual(await sortedContents(killed), expected, when);
      await assertVerifies(when, killed);
      assert.ok(
        !(await listFiles(killed)).some((f) => f.includes(".crawl/") || f.endsWith(".part")),
        when,
      );
      // A search journaled as done before a kill is never sent again; a saved cohort is not
      // resolved again.
      const until = server.requests.length;
      for (const kill of epoch) {
        const later = server.requests.slice(kill.from, until).filter((r) => r.kind === "search");
        const again = later.filter((r) => {
          const type = r.path.split("/").pop()!;
          const patient = /(?:^|&)patient=([^&]+)/.exec(r.query)?.[1];
          return patient && kill.done.has(`${type}?patient=${decodeURIComponent(patient)}`);
        });
        assert.deepEqual(
          again.map((r) => `${r.path}?${r.query}`),
          [],
          `after the kill at ${kill.atMs} ms (${when})`,
        );
        if (kill.cohort) {
          assert.equal(
            later.filter((r) => r.path.endsWith("/Patient") && r.query.includes("identifier"))
              .length,
            0,
            `the cohort was resolved again after the kill at ${kill.atMs} ms (${when})`,
          );
        }
      }
      // The log has the crawl's rows once.
      const log = await Deno.readTextFile(join(killed, "log.ndjson"));
      assert.equal(log.split("\n").filter((l) => l.includes('"eventId":"kickoff"')).length, 1);
    };
    let midCrawl = false;
    let crawls = 1;
    for (let round = 0; total < 22; round++) {
      const delay = rng.int(300, 1600);
      const status = await runAndKill(args(killed), delay);
      await checkCommitted(killed, `after a kill at ${delay} ms`);
      if (status.success) {
        await finish();
        epoch = [];
        killed = join(out.path, `killed-${round + 1}`);
        crawls++;
        continue;
      }
      const meta = JSON.parse(await Deno.readTextFile(join(killed, ".metadata")).catch(() => "{}"));
      const done = await journaledDone(killed);
      midCrawl ||= done.size > 0;
      epoch.push({
        atMs: delay,
        from: server.requests.length,
        done,
        cohort: meta.crawl?.cohort !== undefined,
      });
      total++;
    }
    assert.ok(midCrawl, "some kills landed mid-crawl");
    console.log(`${total} kills over ${crawls} crawl(s) (${rng.replay})`);
    const last = await runCliProcess(args(killed));
    assert.equal(last.code, 0, last.stderr);
    await finish();
  });
});
