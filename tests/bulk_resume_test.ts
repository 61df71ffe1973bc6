/**
 * Crash safety: SIGKILL the real program at random moments, rerun the same command, and get the
 * same data as an uninterrupted run, with finished files never downloaded again.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { runCliProcess, spawnCli } from "./helpers/cli.ts";
import {
  contents,
  listFiles,
  logRows,
  metadata,
  readResources,
  sleep,
  tempDir,
} from "./helpers/folder.ts";

/** What a kill left: every file that looks complete must be complete. */
async function checkInvariants(dir: string, when: string): Promise<Set<string>> {
  const complete = new Set<string>();
  let names: string[] = [];
  try {
    names = await listFiles(dir);
  } catch {
    return complete;
  }
  for (const name of names) {
    if (/\.ndjson(\.gz)?$/.test(name)) {
      // Throws if a file under a final name is cut short or holds a broken line.
      await readResources(join(dir, name)).catch((err) => {
        throw new Error(`${when}: ${name} is not a complete NDJSON file: ${err.message}`);
      });
      complete.add(name);
    }
  }
  if (names.includes(".metadata")) await metadata(dir); // valid JSON, never half-written
  return complete;
}

Deno.test("SIGKILL at random moments, then the same command, gives the same data as an uninterrupted run", async () => {
  await using server = await FakeFhirServer.start({
    patients: 24,
    resourcesPerFile: 4,
    pollsUntilReady: 1,
    progressRetryAfter: "0",
  });
  // Slow files down so kills land during downloads as well as before and after them.
  server.addFault({ target: "file", times: Infinity, fault: { kind: "latency", ms: 25 } });
  await using out = await tempDir();
  const reference = join(out.path, "reference");
  const killed = join(out.path, "killed");
  const args = (dir: string) => [
    "bulk",
    "--fhir-url",
    server.baseUrl,
    "--type",
    "Patient,Encounter,Condition,Observation",
    "--max-connections",
    "2",
    dir,
  ];

  const ref = await runCliProcess(args(reference));
  assert.equal(ref.code, 0, ref.stderr);
  const expected = await contents(reference);
  assert.ok(expected.size > 40, `enough files to kill during downloads (${expected.size})`);

  const kills: {
    atMs: number;
    requestIndex: number;
    complete: Set<string>;
    urlOf: Map<string, string>;
  }[] = [];
  for (let round = 0; round < 6; round++) {
    const delay = 150 + Math.floor(Math.random() * 1200);
    const child = spawnCli(args(killed));
    await sleep(delay);
    try {
      child.kill("SIGKILL");
    } catch {
      // It may have finished already.
    }
    const status = await child.status;
    await child.stdout.cancel();
    await child.stderr.cancel();
    const complete = await checkInvariants(killed, `after a kill at ${delay} ms (round ${round})`);
    const meta = await metadata(killed).catch(() => ({} as Record<string, unknown>));
    const files =
      ((meta.bulk as { manifest?: { files: { name: string; url: string }[] } } | undefined)
        ?.manifest?.files) ?? [];
    const urlOf = new Map(files.map((f) => [f.name, new URL(f.url).pathname]));
    kills.push({ atMs: delay, requestIndex: server.requests.length, complete, urlOf });
    if (status.success) break;
  }

  const last = await runCliProcess(args(killed));
  assert.equal(last.code, 0, last.stderr);
  assert.deepEqual(
    await contents(killed),
    expected,
    `kills at ${kills.map((k) => k.atMs).join(", ")} ms`,
  );
  assert.ok(!(await listFiles(killed)).some((f) => f.endsWith(".part")), "no temporary files left");

  // A file that was complete when a run was killed is never requested again.
  for (const kill of kills) {
    const donePaths = new Set([...kill.complete].map((n) => kill.urlOf.get(n)).filter(Boolean));
    const again = server.requests.slice(kill.requestIndex).filter((r) =>
      r.kind === "file" && donePaths.has(r.path)
    );
    assert.deepEqual(
      again.map((r) => r.path),
      [],
      `re-downloaded after the kill at ${kill.atMs} ms`,
    );
  }

  // The log names one export whose last kickoff has its status_complete (what Cumulus ETL reads).
  const rows = await logRows(killed);
  const lastKickoff = rows.filter((r) => r.eventId === "kickoff").at(-1)!;
  assert.ok(
    rows.some((r) => r.eventId === "status_complete" && r.exportId === lastKickoff.exportId),
  );
  assert.equal(rows.at(-1)!.eventId, "export_complete");
});

Deno.test("a run killed while waiting for the server resumes by polling, without a second kick-off", async () => {
  await using server = await FakeFhirServer.start({
    patients: 3,
    pollsUntilReady: 3,
    progressRetryAfter: "1",
  });
  await using out = await tempDir();
  const dir = join(out.path, "waiting");
  const args = ["bulk", "--fhir-url", server.baseUrl, "--type", "Patient,Condition", dir];
  const child = spawnCli(args);
  // Wait until the kick-off has been answered and saved, then kill.
  for (let i = 0; i < 200 && !server.requests.some((r) => r.kind === "status"); i++) {
    await sleep(20);
  }
  await sleep(100);
  child.kill("SIGKILL");
  await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  const saved = await metadata(dir);
  assert.match(
    String(saved["bulk-status"]),
    /\$export-status\//,
    "the status URL was saved at once",
  );

  const done = await runCliProcess(args);
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stderr, /Resuming the bulk export/);
  assert.equal(server.requests.filter((r) => r.kind === "kickoff").length, 1);
  const rows = await logRows(dir);
  assert.equal(new Set(rows.map((r) => r.exportId)).size, 1, "one exportId across the resume");
});

Deno.test("a run killed after finishing but before releasing the job only releases it on rerun", async () => {
  await using server = await FakeFhirServer.start({ patients: 3, pollsUntilReady: 0 });
  // The DELETE hangs, so the kill lands between "types done" and "job released".
  server.addFault({ target: "delete", times: 1, fault: { kind: "latency", ms: 5000 } });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const args = ["bulk", "--fhir-url", server.baseUrl, "--type", "Patient,Condition", dir];
  const child = spawnCli(args);
  let finished = false;
  for (let i = 0; i < 300 && !finished; i++) {
    await sleep(20);
    const meta = await metadata(dir).catch(() => ({} as Record<string, unknown>));
    const done = Object.keys((meta.done as object | undefined) ?? {});
    finished = done.length === 2 && meta.bulk !== undefined;
  }
  assert.ok(finished, "the run reached the release step");
  child.kill("SIGKILL");
  await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  const before = await metadata(dir);
  const totals = before.totals as { files: number; resources: number };

  const again = await runCliProcess(args);
  assert.equal(again.code, 0, again.stderr);
  const after = await metadata(dir);
  assert.deepEqual(after.totals, totals, "the export is counted once");
  assert.equal(after.bulk, undefined);
  assert.equal(after["bulk-status"], undefined);
  assert.equal(server.requests.filter((r) => r.kind === "kickoff").length, 1);
  assert.equal(
    server.requests.filter((r) => r.kind === "file" && r.status === 200).length,
    totals.files,
  );
  const rows = await logRows(dir);
  assert.equal(rows.filter((r) => r.eventId === "export_complete").length, 1);
  assert.ok(
    server.requests.some((r) => r.kind === "delete" && r.status === 202),
    "released on rerun",
  );
});
