/** `status` over a mixed set of folders, as a table and as JSON. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { FolderLock } from "../src/workspace/lock.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { listFiles, sleep, tempDir } from "./helpers/folder.ts";
import { assertSubfoldersReadable, exportRun } from "./helpers/managed.ts";

/** Runs `export` in a subprocess and SIGKILLs it once `n` data files are committed. */
async function killDuringDownloads(
  server: FakeFhirServer,
  dir: string,
  n: number,
): Promise<number> {
  const child = spawnCli([
    "export",
    "--fhir-url",
    server.baseUrl,
    "--type",
    "Patient,Condition,Observation",
    "--max-connections",
    "1",
    dir,
  ]);
  let committed = 0;
  for (let i = 0; i < 1500 && committed < n; i++) {
    await sleep(10);
    const files = await listFiles(dir).catch(() => []);
    committed = files.filter((f) => /^\d+\.[^/]+\/[A-Za-z]+\.\d+\.ndjson\.gz$/.test(f)).length;
  }
  child.kill("SIGKILL");
  await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  const files = await listFiles(dir);
  return files.filter((f) => /\.ndjson\.gz$/.test(f) && !f.includes("/error/")).length;
}

Deno.test("status of every kind of folder: table and JSON agree, and say what to do", async () => {
  await using server = await FakeFhirServer.start({
    patients: 8,
    pollsUntilReady: 0,
    resourcesPerFile: 3,
  });
  await using out = await tempDir();
  const clock = new FakeClock();
  const root = join(out.path, "root");
  const dir = (i: number) => join(root, `MRN-${String(i).padStart(3, "0")}`);
  // 12 complete managed exports.
  for (let i = 0; i < 12; i++) {
    const r = await exportRun(
      server,
      dir(i),
      clock,
      "--type",
      "Patient,Condition",
      "--group",
      "all",
    );
    assert.equal(r.code, 0, r.stderr);
  }
  await assertSubfoldersReadable(dir(0));
  // 2 failed after the server accepted them: it refuses their status polls.
  server.addFault({
    target: "status",
    times: 2,
    fault: { kind: "status", status: 403, body: "text" },
  });
  for (let i = 12; i < 14; i++) {
    const r = await exportRun(server, dir(i), clock, "--type", "Patient");
    assert.equal(r.code, 5, r.stderr);
  }
  // 2 gave up waiting for the server: failed, with the reason.
  server.addFault({
    target: "status",
    times: Infinity,
    fault: { kind: "status", status: 202, retryAfter: "3600" },
  });
  for (let i = 14; i < 16; i++) {
    const r = await exportRun(server, dir(i), clock, "--type", "Patient", "--max-wait", "1m");
    assert.equal(r.code, 1, r.stderr);
  }
  server.clearFaults();
  // 1 killed while downloading: interrupted, with the files it committed.
  server.addFault({ target: "file", times: Infinity, fault: { kind: "latency", ms: 40 } });
  const kept = await killDuringDownloads(server, dir(16), 2);
  server.clearFaults();
  // 1 cancelled plain bulk folder.
  server.addFault({
    target: "status",
    times: Infinity,
    fault: { kind: "status", status: 202, retryAfter: "3600" },
  });
  const bulkArgs = ["bulk", "--fhir-url", server.baseUrl, "--type", "Patient", dir(17)];
  assert.equal((await runCli([...bulkArgs, "--max-wait", "1m"], { clock })).code, 1);
  assert.equal((await runCli([...bulkArgs, "--cancel"], { clock })).code, 0);
  server.clearFaults();
  // 1 running: its lock is held right now.
  await Deno.mkdir(dir(18), { recursive: true });
  const running = await FolderLock.acquire(dir(18), "export", Date.now());
  // 1 never started (empty), 1 missing, 1 unrelated folder.
  await Deno.mkdir(dir(19), { recursive: true });
  await Deno.mkdir(dir(21), { recursive: true });
  await Deno.writeTextFile(join(dir(21), "notes.txt"), "not an export\n");
  try {
    const args = ["status", ...Array.from({ length: 22 }, (_, i) => dir(i))];
    const table = await runCli(args, { clock });
    assert.equal(table.code, 2, "a missing or unrelated folder makes the exit non-zero");
    const lines = table.stdout.trim().split("\n");
    assert.match(
      lines[0]!,
      /^FOLDER\s+EXPORT\s+STATE\s+MODE\s+TYPES\s+RESOURCES\s+FILES\s+ERRORS\s+ACTIVE\s+NOTE$/,
    );
    assert.equal(lines.length, 24);
    const summary =
      "12 of 22 complete, 1 running, 4 failed, 1 interrupted, 1 cancelled, 1 not started, 1 missing, 1 not an export folder";
    assert.equal(lines.at(-1), summary);
    const row = (i: number) => lines.find((l) => l.startsWith(dir(i) + " "))!;
    assert.match(
      row(0),
      /\d{3}\.\d{4}-\d\d-\d\d\s+complete\s+bulk\s+2\/2\s+\d+\s+\d+\s+0\s+\d+s ago/,
    );
    // Cause first, the URL short.
    assert.match(row(12), /failed .*\s{2}Injected fault: HTTP 403 \(HTTP 403 Forbidden from GET /);
    assert.match(row(14), /failed .*has not finished the export/);
    assert.match(
      row(16),
      new RegExp(`interrupted\\s+bulk\\s+\\d/3\\s+\\d+\\s+${kept}\\s+.*rerun the same command`),
    );
    assert.ok(kept >= 2, `the killed run kept ${kept} files`);
    assert.match(row(17), /\(plain\)\s+cancelled\s+bulk .*cancelled at/);
    assert.match(row(18), new RegExp(`running .*pid ${Deno.pid} on `));
    assert.match(row(19), /\s-\s+not started/);
    assert.match(row(20), /missing .*no such folder/);
    assert.match(row(21), /not an export folder/);

    const json = await runCli([...args, "--json"], { clock });
    assert.equal(json.code, 2);
    const parsed = JSON.parse(json.stdout);
    assert.deepEqual(parsed.summary, {
      total: 22,
      complete: 12,
      running: 1,
      failed: 4,
      interrupted: 1,
      cancelled: 1,
      notStarted: 1,
      missing: 1,
      notExportFolder: 1,
      text: summary,
    });
    const first = parsed.folders[0];
    assert.equal(first.state, "complete");
    assert.equal(first.typesDone, 2);
    assert.equal(first.typesRequested, 2);
    assert.ok(first.resources > 0 && first.files > 0);
    assert.equal(parsed.folders[16].files, kept);
    assert.equal(parsed.folders[18].live, true);
    assert.equal(parsed.folders[18].holder.pid, Deno.pid);

    // --unfinished: the sbatch --array list of every folder not complete, the missing one too,
    // but not the one a live run holds; a folder that is no export folder is a mistake.
    const all21 = Array.from({ length: 21 }, (_, i) => dir(i));
    const todo = await runCli(["status", "--unfinished", ...all21], { clock });
    assert.equal(todo.code, 0, todo.stderr);
    assert.equal(todo.stdout, "12-17,19-20\n");
    const unrelated = await runCli(["status", "--unfinished", ...all21, dir(21)], { clock });
    assert.equal(unrelated.code, 2);
    assert.match(unrelated.stderr, /MRN-021 is not an export folder/);
    const done = await runCli(["status", "--unfinished", dir(0), dir(1)], { clock });
    assert.equal(done.stdout, "\n");

    // A quoted glob the shell did not expand: MRN-010 to MRN-019.
    const glob = await runCli(["status", join(root, "MRN-01*")], { clock });
    assert.equal(glob.code, 0);
    assert.equal(
      glob.stdout.trim().split("\n").at(-1),
      "2 of 10 complete, 1 running, 4 failed, 1 interrupted, 1 cancelled, 1 not started",
    );
  } finally {
    await running.release();
  }
});
