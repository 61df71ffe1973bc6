/**
 * Crash safety of the managed export: SIGKILL at random (seeded, replayable) moments of a second
 * export (downloads, deletions, links, completion), then the same command: the same folder as
 * without kills.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { runAndKill, runCliProcess } from "./helpers/cli.ts";
import { contents, listFiles, metadata, tempDir } from "./helpers/folder.ts";
import { assertSubfoldersReadable, links } from "./helpers/managed.ts";
import { testRandom, withReplayHint } from "./helpers/seed.ts";
import { assertVerifies } from "./helpers/verify.ts";

Deno.test("export: SIGKILL at random (seeded) moments, then the same command, gives the uninterrupted result", async () => {
  const rng = testRandom();
  await withReplayHint(rng, async () => {
    await using server = await FakeFhirServer.start({
      patients: 16,
      resourcesPerFile: 3,
      pollsUntilReady: 1,
      progressRetryAfter: "0",
    });
    server.addFault({ target: "file", times: Infinity, fault: { kind: "latency", ms: 20 } });
    await using out = await tempDir();
    const ref = join(out.path, "reference");
    const killed = join(out.path, "killed");
    const args = (dir: string, nickname: string) => [
      "export",
      "--fhir-url",
      server.baseUrl,
      "--type",
      "Patient,Condition,Encounter",
      "--max-connections",
      "2",
      "--nickname",
      nickname,
      dir,
    ];
    for (const dir of [ref, killed]) assert.equal((await runCliProcess(args(dir, "q1"))).code, 0);
    const template = server.resources("Patient")[0]!;
    server.mutate({
      remove: [`Condition/${server.resources("Condition")[2]!.id}`, "Patient/pat-0005"],
      add: [{ ...template, id: "pat-0200", meta: {} }],
    });
    const r = await runCliProcess(args(ref, "q2"));
    assert.equal(r.code, 0, r.stderr);

    const delays: number[] = [];
    for (let round = 0; round < 6; round++) {
      const delay = rng.int(100, 1099);
      delays.push(delay);
      const status = await runAndKill(args(killed, "q2"), delay);
      // Whatever the moment, no file under a final name is partial and every link resolves.
      for (const [name, target] of await links(killed)) {
        await Deno.stat(join(killed, target)).catch(() => {
          throw new Error(
            `after a kill at ${delay} ms (${rng.replay}), ${name} -> ${target} is dangling`,
          );
        });
      }
      if (status.success) break;
    }
    const last = await runCliProcess(args(killed, "q2"));
    assert.equal(last.code, 0, last.stderr);

    const when = `kills at ${delays.join(", ")} ms (${rng.replay})`;
    // Hydration fetches many at a time, so its rows come in any order, and a role may come by
    // reference or by search first: compare ids per type.
    const sorted = async (dir: string) => {
      const byType = new Map<string, Set<string>>();
      for (const [name, ids] of await contents(dir)) {
        const key = name.startsWith("deleted/") ? name : name.split(".")[0]!;
        const set = byType.get(key) ?? new Set<string>();
        for (const id of ids) set.add(id);
        byType.set(key, set);
      }
      return new Map(
        [...byType].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) =>
          [k, [...v].sort()] as const
        ),
      );
    };
    assert.deepEqual(
      await sorted(join(killed, "002.q2")),
      await sorted(join(ref, "002.q2")),
      when,
    );
    assert.deepEqual(await links(killed), await links(ref), when);
    const [a, b] = [await metadata(join(killed, "002.q2")), await metadata(join(ref, "002.q2"))];
    assert.equal(a.complete, true);
    assert.deepEqual(a.newPatients, b.newPatients);
    assert.deepEqual(a.newPatients, ["pat-0200"]);
    assert.ok(
      (await listFiles(join(killed, "002.q2"))).includes("deleted/Bundle.Patient.ndjson.gz"),
    );
    assert.ok(
      !(await listFiles(killed)).some((f) => f.endsWith(".part")),
      "no temporary files left",
    );
    await assertSubfoldersReadable(killed);
    await assertVerifies(when, killed);
  });
});
