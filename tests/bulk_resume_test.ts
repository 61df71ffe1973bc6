/**
 * Crash safety: SIGKILL the real program at chosen and at random (seeded) moments, rerun the same
 * command, and get the same data as an uninterrupted run, with finished files never downloaded
 * again.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { requestsOf } from "./helpers/bulk_e2e.ts";
import { killChild, runCliProcess, spawnCli } from "./helpers/cli.ts";
import {
  contents,
  listFiles,
  logRows,
  metadata,
  readResources,
  sleep,
  tempDir,
} from "./helpers/folder.ts";
import { testRandom, withReplayHint } from "./helpers/seed.ts";
import { assertVerifies } from "./helpers/verify.ts";

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

/** Data files under their final names (`Type.NNN.ndjson.gz`) at the top of a folder. */
function finalDataFiles(names: string[]): string[] {
  return names.filter((n) => /^[A-Z][A-Za-z]+\.\d{3}\.ndjson\.gz$/.test(n));
}

/** The saved manifest of a folder's export in progress: local name -> URL path. */
async function manifestPaths(dir: string): Promise<Map<string, string>> {
  const meta = await metadata(dir).catch(() => ({} as Record<string, unknown>));
  const files =
    ((meta.bulk as { manifest?: { files: { name: string; url: string }[] } } | undefined)
      ?.manifest?.files) ?? [];
  return new Map(files.map((f) => [f.name, new URL(f.url).pathname]));
}

/** `bulk` of four types with two connections into `dir`. */
function bulkArgs(server: FakeFhirServer, dir: string): string[] {
  return [
    "bulk",
    "--fhir-url",
    server.baseUrl,
    "--type",
    "Patient,Encounter,Condition,Observation",
    "--max-connections",
    "2",
    dir,
  ];
}

Deno.test("SIGKILL once 3 files are done and others in flight: the rerun fetches exactly the unfinished ones", async () => {
  await using server = await FakeFhirServer.start({
    patients: 24,
    resourcesPerFile: 4,
    pollsUntilReady: 1,
    progressRetryAfter: "0",
  });
  await using out = await tempDir();
  const reference = join(out.path, "reference");
  const killed = join(out.path, "killed");
  const ref = await runCliProcess(bulkArgs(server, reference));
  assert.equal(ref.code, 0, ref.stderr);
  const expected = await contents(reference);
  assert.ok(expected.size > 40, `enough files (${expected.size})`);

  // Slow every download, so a kill lands with some files done and others on the wire; the
  // second one much more, so one connection finishes files one by one while it waits.
  server.addFault({ target: "file", skip: 1, fault: { kind: "latency", ms: 30_000 } });
  server.addFault({ target: "file", times: Infinity, fault: { kind: "latency", ms: 400 } });
  const firstRequest = server.requests.length;
  const waiting = () =>
    server.requests.slice(firstRequest).filter((r) => r.kind === "file" && r.status === 0);
  const child = spawnCli(bulkArgs(server, killed));
  const N = 3;
  for (let i = 0;; i++) {
    const done = finalDataFiles(await listFiles(killed).catch(() => []));
    if (done.length >= N && waiting().length > 0) break;
    assert.ok(i < 12_000, `${N} files done while others download (seen ${done.length})`);
    await sleep(5);
  }
  const status = await killChild(child);
  assert.ok(!status.success, "the run was killed, not finished");
  const killIndex = server.requests.length;
  server.clearFaults();

  // The state the kill left: complete files under final names, the rest still to fetch.
  const complete = await checkInvariants(killed, "after the kill");
  const done = finalDataFiles([...complete]);
  const urlOf = await manifestPaths(killed);
  assert.ok(done.length >= N && done.length < urlOf.size, `${done.length} of ${urlOf.size} done`);
  const donePaths = new Set(done.map((n) => urlOf.get(n)));
  assert.ok(done.every((n) => urlOf.has(n)), "every done file is in the saved manifest");
  const before = server.requests.slice(firstRequest, killIndex).filter((r) => r.kind === "file");
  const unfinished = before.filter((r) => !donePaths.has(r.path)).map((r) => r.path);
  assert.ok(unfinished.length > 0, "downloads were in flight at the kill");
  assert.ok(unfinished.includes(before[1]!.path), "the slow second download was in flight");

  const last = await runCliProcess(bulkArgs(server, killed));
  assert.equal(last.code, 0, last.stderr);
  assert.deepEqual(await contents(killed), expected);

  // After the kill, each file that was not complete is fetched once; the complete ones never.
  const again = server.requests.slice(killIndex).filter((r) => r.kind === "file");
  const todo = [...urlOf].filter(([name]) => !done.includes(name)).map(([, path]) => path);
  assert.deepEqual(
    again.map((r) => r.path).sort(),
    todo.sort(),
    `requested after the kill with ${done.join(", ")} done`,
  );
  for (const path of unfinished) assert.ok(todo.includes(path), `${path} was fetched again`);
  assert.equal(
    server.requests.slice(killIndex).filter((r) => r.kind === "kickoff").length,
    0,
    "the rerun resumed the same export",
  );
});

Deno.test("SIGKILL at random (seeded) moments, then the same command, gives the same data as an uninterrupted run", async () => {
  const rng = testRandom();
  await withReplayHint(rng, async () => {
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

    const ref = await runCliProcess(bulkArgs(server, reference));
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
      const delay = rng.int(150, 1349);
      const child = spawnCli(bulkArgs(server, killed));
      await sleep(delay);
      const status = await killChild(child);
      const complete = await checkInvariants(
        killed,
        `after a kill at ${delay} ms (round ${round}, ${rng.replay})`,
      );
      const urlOf = await manifestPaths(killed);
      kills.push({ atMs: delay, requestIndex: server.requests.length, complete, urlOf });
      if (status.success) break;
    }
    const when = `kills at ${kills.map((k) => k.atMs).join(", ")} ms (${rng.replay})`;

    const last = await runCliProcess(bulkArgs(server, killed));
    assert.equal(last.code, 0, `${when}: ${last.stderr}`);
    assert.deepEqual(await contents(killed), expected, when);
    assert.ok(
      !(await listFiles(killed)).some((f) => f.endsWith(".part")),
      `${when}: no temporary files left`,
    );

    // A file that was complete when a run was killed is never requested again.
    for (const kill of kills) {
      const donePaths = new Set([...kill.complete].map((n) => kill.urlOf.get(n)).filter(Boolean));
      const again = server.requests.slice(kill.requestIndex).filter((r) =>
        r.kind === "file" && donePaths.has(r.path)
      );
      assert.deepEqual(
        again.map((r) => r.path),
        [],
        `re-downloaded after the kill at ${kill.atMs} ms (${when})`,
      );
    }

    // The log names one export whose last kickoff has its status_complete (what Cumulus ETL reads).
    const rows = await logRows(killed);
    const lastKickoff = rows.filter((r) => r.eventId === "kickoff").at(-1)!;
    assert.ok(
      rows.some((r) => r.eventId === "status_complete" && r.exportId === lastKickoff.exportId),
      `${when}: the last kickoff has its status_complete`,
    );
    assert.equal(rows.at(-1)!.eventId, "export_complete", when);
    await assertVerifies(when, killed);
  });
});

Deno.test("a run killed while waiting for the server resumes by polling, without a second kick-off", async () => {
  await using server = await FakeFhirServer.start({
    patients: 3,
    pollsUntilReady: 2,
    progressRetryAfter: "0",
  });
  // The first status poll is not answered while the test runs: the run is waiting for the
  // server when it is killed, however slow the machine.
  server.addFault({ target: "status", fault: { kind: "latency", ms: 600_000 } });
  await using out = await tempDir();
  const dir = join(out.path, "waiting");
  const args = ["bulk", "--fhir-url", server.baseUrl, "--type", "Patient,Condition", dir];
  const child = spawnCli(args);
  for (let i = 0; !server.requests.some((r) => r.kind === "status"); i++) {
    assert.ok(i < 3000, "the run polled the status URL (gave up after about a minute)");
    await sleep(20);
  }
  await killChild(child);
  assert.equal(requestsOf(server, "status")[0]!.status, 0, "killed while the poll was unanswered");
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
  // The first DELETE is not answered while the test runs, so the kill lands between "types
  // done" and "job released", however slow the machine.
  server.addFault({ target: "delete", fault: { kind: "latency", ms: 600_000 } });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const args = ["bulk", "--fhir-url", server.baseUrl, "--type", "Patient,Condition", dir];
  const child = spawnCli(args);
  for (let i = 0; !server.requests.some((r) => r.kind === "delete"); i++) {
    assert.ok(i < 3000, "the run reached the release step (gave up after about a minute)");
    await sleep(20);
  }
  await killChild(child);
  assert.equal(
    requestsOf(server, "delete")[0]!.status,
    0,
    "killed while the DELETE was unanswered",
  );
  const saved = await metadata(dir);
  assert.deepEqual(Object.keys((saved.done as object | undefined) ?? {}).sort(), [
    "Condition",
    "Patient",
  ]);
  assert.equal((saved.bulk as { finished?: boolean } | undefined)?.finished, true);
  const totals = saved.totals as { files: number; resources: number };

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
