/**
 * `bulk` locks its output folder: a second run into the same folder stops at once (exit 4) and
 * names the folder and the run that holds it, while runs into other folders go ahead.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { assertComplete, requestsOf } from "./helpers/bulk_e2e.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { metadata, sleep, tempDir } from "./helpers/folder.ts";

const TYPES = ["Patient", "Condition"];

/** The one `error:` line of a failed run. */
function errorLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.equal(lines.length, 1, stderr);
  return lines[0]!;
}

/** Whether `text` names `path` as a whole path (not as the start of a longer one). */
function namesPath(text: string, path: string): boolean {
  return text.split(/[\s"'`(),]+/).some((word) => word.replace(/[.:;]+$/, "") === path);
}

Deno.test("a second bulk run into a folder in use exits 4 naming the folder and the holder's pid", async () => {
  // The export never gets ready while the test runs: the first run holds the lock, polling.
  await using server = await FakeFhirServer.start({
    patients: 2,
    pollsUntilReady: 1_000_000,
    progressRetryAfter: "1",
  });
  await using out = await tempDir();
  const dir = join(out.path, "busy");
  const args = ["bulk", "--fhir-url", server.baseUrl, "--type", TYPES.join(","), dir];
  const first = spawnCli(args);
  try {
    // The server accepted the first run's export: it is past the lock, waiting for the server.
    let saved: Record<string, unknown> = {};
    for (let i = 0; !saved["bulk-status"]; i++) {
      assert.ok(i < 3000, "the first run saved its status URL (gave up after about a minute)");
      await sleep(20);
      saved = await metadata(dir).catch(() => ({}));
    }
    const kickoffs = requestsOf(server, "kickoff").length;
    assert.equal(kickoffs, 1);

    const second = await runCli(args, { clock: new FakeClock() });
    assert.equal(second.code, 4, second.stderr);
    const line = errorLine(second.stderr);
    assert.ok(namesPath(line, dir), `the error names ${dir}: ${line}`);
    assert.match(line, /in use/);
    assert.match(line, new RegExp(`\\bpid ${first.pid}\\b`), line);
    assert.match(line, /"bulk"/, "it says which command holds the folder");
    // It stopped before talking to the server or touching the folder's state.
    assert.equal(requestsOf(server, "kickoff").length, kickoffs, "no second kick-off");
    assert.deepEqual(await metadata(dir), saved);

    // A folder next to it (same parent) is not locked by the first run.
    await using other = await FakeFhirServer.start({ patients: 2, pollsUntilReady: 0 });
    const sibling = join(out.path, "sibling");
    const r = await runCli(
      ["bulk", "--fhir-url", other.baseUrl, "--type", TYPES.join(","), sibling],
      { clock: new FakeClock() },
    );
    assert.equal(r.code, 0, r.stderr);
    await assertComplete(sibling, other, TYPES);
  } finally {
    try {
      first.kill("SIGKILL");
    } catch {
      // It ended already (a failed assertion above says why).
    }
    await first.status;
    await first.stdout.cancel();
    await first.stderr.cancel();
  }

  // The lock dies with its process: after the kill, --cancel can take the folder.
  const cancel = await runCli([...args, "--cancel"], { clock: new FakeClock() });
  assert.equal(cancel.code, 0, cancel.stderr);
  assert.ok(
    requestsOf(server, "delete").some((q) => q.status === 202),
    "the cancel released the job",
  );
  assert.equal((await metadata(dir))["bulk-status"], undefined);
});
