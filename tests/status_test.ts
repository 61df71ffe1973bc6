/** `status` over a mixed set of 20 folders, as a table and as JSON. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { FolderLock } from "../src/workspace/lock.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { runCli } from "./helpers/cli.ts";
import { tempDir } from "./helpers/folder.ts";
import { assertSubfoldersReadable, exportRun } from "./helpers/managed.ts";

Deno.test("status of 20 folders: complete, running, failed, not started; table and JSON agree", async () => {
  await using server = await FakeFhirServer.start({ patients: 3, pollsUntilReady: 0 });
  await using out = await tempDir();
  const clock = new FakeClock();
  const root = join(out.path, "root");
  const dir = (i: number) => join(root, `MRN-${String(i).padStart(3, "0")}`);
  // 12 complete managed exports.
  for (let i = 0; i < 12; i++) {
    assert.equal(
      (await exportRun(server, dir(i), clock, "--type", "Patient,Condition", "--group", "all"))
        .code,
      0,
    );
  }
  await assertSubfoldersReadable(dir(0));
  // 3 that failed: the server refuses their kick-off; status shows why.
  server.addFault({
    target: "kickoff",
    times: 3,
    fault: { kind: "status", status: 403, body: "text" },
  });
  for (let i = 12; i < 15; i++) {
    assert.equal((await exportRun(server, dir(i), clock, "--type", "Patient")).code, 1);
  }
  // 2 killed while waiting for the server (state saved, no live process): failed.
  server.addFault({
    target: "status",
    times: Infinity,
    fault: { kind: "status", status: 202, retryAfter: "3600" },
  });
  for (let i = 15; i < 17; i++) {
    const r = await exportRun(server, dir(i), clock, "--type", "Patient", "--max-wait", "1m");
    assert.equal(r.code, 1, r.stderr);
  }
  server.clearFaults();
  // 1 running: its lock is held right now.
  await Deno.mkdir(dir(17), { recursive: true });
  const running = await FolderLock.acquire(dir(17), "export", Date.now());
  // 2 never started: an empty folder, and one that does not exist yet.
  await Deno.mkdir(dir(18), { recursive: true });
  try {
    const args = ["status", ...Array.from({ length: 20 }, (_, i) => dir(i))];
    const table = await runCli(args, { clock });
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split("\n");
    assert.match(
      lines[0]!,
      /^FOLDER\s+EXPORT\s+STATE\s+MODE\s+TYPES\s+RESOURCES\s+FILES\s+ERRORS\s+ACTIVE\s+NOTE$/,
    );
    assert.equal(lines.length, 22);
    assert.equal(lines.at(-1), "12 of 20 complete, 1 running, 5 failed, 2 not started");
    const row = (i: number) => lines.find((l) => l.startsWith(dir(i)))!;
    assert.match(
      row(0),
      /\d{3}\.\d{4}-\d\d-\d\d\s+complete\s+bulk\s+2\/2\s+\d+\s+\d+\s+0\s+\d+s ago/,
    );
    assert.match(row(12), /failed .*HTTP 403/);
    assert.match(row(15), /failed .*(not finished|waiting for the server)/);
    assert.match(row(17), new RegExp(`running .*pid ${Deno.pid} on `));
    assert.match(row(18), /not started/);

    const json = await runCli([...args, "--json"], { clock });
    const parsed = JSON.parse(json.stdout);
    assert.deepEqual(parsed.summary, {
      total: 20,
      complete: 12,
      running: 1,
      failed: 5,
      notStarted: 2,
      text: "12 of 20 complete, 1 running, 5 failed, 2 not started",
    });
    const first = parsed.folders[0];
    assert.equal(first.state, "complete");
    assert.equal(first.typesDone, 2);
    assert.equal(first.typesRequested, 2);
    assert.ok(first.resources > 0 && first.files > 0);
    assert.equal(parsed.folders[17].live, true);
    assert.equal(parsed.folders[17].holder.pid, Deno.pid);

    // A quoted glob the shell did not expand.
    const glob = await runCli(["status", join(root, "MRN-01*")], { clock });
    // MRN-010 to MRN-018 exist (MRN-019 was never made).
    assert.equal(
      glob.stdout.trim().split("\n").at(-1),
      "2 of 9 complete, 1 running, 5 failed, 1 not started",
    );
  } finally {
    await running.release();
  }
});
