/**
 * Inlining never loses or truncates a row: SIGKILL the real program at 20+ seeded random
 * moments while it inlines 300+ notes, rerun each time; afterwards every row is present exactly
 * once, in order, and every eligible attachment is inlined, as by an uninterrupted run.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { runAndKill, runCli, runCliProcess } from "./helpers/cli.ts";
import { listFiles, readResources, tempDir } from "./helpers/folder.ts";
import { testRandom, withReplayHint } from "./helpers/seed.ts";

const TEXT = ["text/plain", "text/html", "application/xhtml+xml"];

/** Attachments of the file that should end up inlined, and those that are. */
async function attachments(path: string) {
  const rows = await readResources(path);
  const all = rows.flatMap((d) =>
    (d.content as { attachment: Record<string, unknown> }[]).map((c) => c.attachment)
  );
  const eligible = all.filter((a) => TEXT.includes(String(a.contentType).split(";")[0]!));
  return { rows, eligible, inlined: eligible.filter((a) => typeof a.data === "string") };
}

Deno.test("inline: SIGKILL at 20+ random (seeded) moments over 300+ notes loses no row and ends fully inlined", async () => {
  const rng = testRandom();
  await withReplayHint(rng, async () => {
    await using server = await FakeFhirServer.start({ patients: 220, pollsUntilReady: 0 });
    await using out = await tempDir();
    const exported = join(out.path, "exported");
    const bulk = await runCli(
      [
        "bulk",
        "--fhir-url",
        server.baseUrl,
        "--type",
        "DocumentReference",
        "--no-compression",
        exported,
      ],
      { clock: new FakeClock() },
    );
    assert.equal(bulk.code, 0, bulk.stderr);
    const files = (await listFiles(exported)).filter((f) => f.startsWith("DocumentReference."));
    // One big file, as a hospital's would be.
    const original = (await Promise.all(files.map((f) => Deno.readTextFile(join(exported, f)))))
      .join("");
    const reference = join(out.path, "reference");
    const killed = join(out.path, "killed");
    for (const dir of [reference, killed]) {
      await Deno.mkdir(dir);
      await Deno.writeTextFile(join(dir, "DocumentReference.ndjson"), original);
    }
    const before = await attachments(join(killed, "DocumentReference.ndjson"));
    assert.ok(before.rows.length >= 300, `${before.rows.length} notes`);
    const todo = before.eligible.length - before.inlined.length;
    assert.ok(todo >= 150, `${todo} attachments to inline`);

    const ref = await runCli(["inline", "--fhir-url", server.baseUrl, reference], {
      clock: new FakeClock(),
    });
    assert.equal(ref.code, 0, ref.stderr);
    const expected = await readResources(join(reference, "DocumentReference.ndjson"));

    // Slow the notes down so the inlining lasts long enough for many kills.
    server.addFault({ target: "binary", times: Infinity, fault: { kind: "latency", ms: 150 } });
    const args = ["inline", "--fhir-url", server.baseUrl, "--max-connections", "2", killed];
    let kills = 0;
    let finished = false;
    for (let round = 0; round < 40 && kills < 21; round++) {
      const delay = rng.int(300, 1500);
      const status = await runAndKill(args, delay);
      // Whatever the moment: the file is whole, every row there once, in order.
      const now = await readResources(join(killed, "DocumentReference.ndjson"));
      assert.deepEqual(
        now.map((d) => d.id),
        before.rows.map((d) => d.id),
        `after a kill at ${delay} ms`,
      );
      if (status.success) {
        finished = true;
        break;
      }
      kills++;
    }
    assert.ok(kills >= 20, `only ${kills} kills landed before the inlining finished`);
    if (!finished) {
      const last = await runCliProcess(args);
      assert.equal(last.code, 0, last.stderr);
    }
    const after = await attachments(join(killed, "DocumentReference.ndjson"));
    assert.equal(after.inlined.length, after.eligible.length, "every eligible attachment inlined");
    assert.deepEqual(after.rows, expected, "the same rows as an uninterrupted run");
    assert.ok(
      !(await listFiles(killed)).some((f) => f.includes(".part") || f.startsWith(".hydrate")),
    );
  });
});
