/**
 * Every file a real server sends is downloaded, and no short or mislabeled file is ever
 * committed: tiny reads, Binary-wrapped files (HAPI, Smile CDR), bodies that end early without
 * an error, manifests whose types lie, and our own bugs failing fast instead of being retried.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import type { ProgressEvent } from "../src/log/events.ts";
import { main } from "../main.ts";
import { FakeFhirServer, type FakeServerOptions } from "./fake_server/mod.ts";
import { assertComplete, requestsOf } from "./helpers/bulk_e2e.ts";
import { runCli } from "./helpers/cli.ts";
import { listFiles, logRows, metadata, readResources, tempDir } from "./helpers/folder.ts";

const TYPES = ["Patient", "Condition", "DocumentReference", "Observation"];

function bulk(server: FakeFhirServer, dir: string, clock = new FakeClock(), ...flags: string[]) {
  return runCli(["bulk", "--fhir-url", server.baseUrl, "--type", TYPES.join(","), ...flags, dir], {
    clock,
  });
}

/** Exports TYPES from a server with `options` and checks the folder holds exactly its data. */
async function exportsExactly(options: FakeServerOptions, what: string): Promise<FakeFhirServer> {
  const server = await FakeFhirServer.start({ patients: 5, pollsUntilReady: 0, ...options });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir);
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  await assertComplete(dir, server, TYPES);
  const rows = await logRows(dir);
  for (const row of rows.filter((r) => r.eventId === "download_complete")) {
    assert.ok(Number(row.eventDetail.resourceCount) > 0, `${what}: counted resources`);
  }
  return server;
}

Deno.test("a whole export streamed in tiny reads, every line (the first included) spanning many", async () => {
  for (const chunkBytes of [97, 7, 1]) {
    for (const gzipFiles of [false, true]) {
      await using server = await exportsExactly(
        { chunkBytes, gzipFiles },
        `${chunkBytes}-byte chunks${gzipFiles ? ", gzip" : ""}`,
      );
      // Every line is longer than a read: the first-line check and the row checks had to copy.
      const doc = server.resources("DocumentReference")[0]!;
      assert.ok(JSON.stringify(doc).length > 4 * chunkBytes);
    }
  }
});

Deno.test("files served as Binary resources (JSON, XML, gzip inside, data first) are unwrapped", async () => {
  const variants: [FakeServerOptions, string][] = [
    [{ filesAsBinary: "json" }, "JSON Binary"],
    [{ filesAsBinary: "json", binaryKeyOrder: "data-first", chunkBytes: 61 }, "data first"],
    [{ filesAsBinary: "json", binaryGzipContent: true }, "gzip inside"],
    [{ filesAsBinary: "xml" }, "XML unless JSON is asked for"],
  ];
  for (const [options, what] of variants) {
    await using server = await exportsExactly(options, what);
    const files = requestsOf(server, "file");
    assert.ok(files.every((f) => f.path.includes("/Binary/")), what);
    // NDJSON is asked for first; only an XML answer makes us ask again for JSON.
    const accepts = new Set(files.map((f) => f.headers["accept"]));
    assert.deepEqual(
      [...accepts].sort(),
      options.filesAsBinary === "xml"
        ? ["application/fhir+json", "application/fhir+ndjson"]
        : ["application/fhir+ndjson"],
      what,
    );
  }
});

Deno.test("a body that ends early and cleanly, mid-line or at a line end, is retried to an exact file", async () => {
  for (const atLineEnd of [false, true]) {
    for (const gzipFiles of [true, false]) {
      const what = `${atLineEnd ? "at a line end" : "mid-line"}${gzipFiles ? ", gzip" : ""}`;
      const clock = new FakeClock();
      await using server = await FakeFhirServer.start({
        patients: 5,
        pollsUntilReady: 0,
        gzipFiles,
        now: () => clock.now(),
      });
      server.addFault({
        target: "file",
        pathIncludes: "Condition.001",
        fault: { kind: "shorten", afterBytes: 1500, atLineEnd },
      });
      await using out = await tempDir();
      const dir = join(out.path, "x");
      const r = await bulk(server, dir, clock);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      await assertComplete(dir, server, TYPES);
      const tries = requestsOf(server, "file").filter((q) => q.path.includes("Condition.001"));
      assert.equal(tries.length, 2, `${what}: the short body was downloaded again`);
      assert.match(
        r.stderr,
        atLineEnd ? /holds \d+ resources, but the manifest says \d+/ : /cut short/,
        what,
      );
    }
  }
});

Deno.test("a truncation that persists: non-zero exit, no committed short file, and the next run retries it", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({
    patients: 5,
    pollsUntilReady: 0,
    now: () => clock.now(),
  });
  server.addFault({
    target: "file",
    pathIncludes: "Condition.001",
    times: Infinity,
    fault: { kind: "shorten", afterBytes: 2000, atLineEnd: true },
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /error: 1 file\(s\) failed their checks and were not saved; rerun the same command/,
  );
  assert.match(
    r.stderr,
    / - Condition\.001\.ndjson\.gz: .*holds \d+ resources, but the manifest says/,
  );
  const files = await listFiles(dir);
  assert.ok(!files.includes("Condition.001.ndjson.gz"), "the short file was never committed");
  assert.ok(!files.some((f) => f.endsWith(".part")), "no temporary file left");
  assert.ok(files.includes("Patient.001.ndjson.gz"), "the other files were downloaded");
  const errors = (await logRows(dir)).filter((row) => row.eventId === "download_error");
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]!.eventDetail.fileUrl), /Condition\.001/);
  const meta = await metadata(dir);
  assert.equal("Condition" in (meta.done as object ?? {}), false, "Condition is not done");
  assert.ok(meta.bulk, "the export stays open for the next run");

  server.clearFaults();
  const again = await bulk(server, dir, clock);
  assert.equal(again.code, 0, again.stderr);
  await assertComplete(dir, server, TYPES);
  assert.equal(requestsOf(server, "kickoff").length, 1, "the same export, resumed");
});

Deno.test("a manifest entry whose rows are of another type is refused: not saved, recorded, exit 5", async () => {
  await using server = await FakeFhirServer.start({
    patients: 5,
    pollsUntilReady: 0,
    manifestTypeOverrides: { Condition: "Patient" },
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /the server's files are not what its manifest says \(see error\/\)/);
  // No Patient file holds Conditions.
  for (const name of (await listFiles(dir)).filter((f) => /^Patient\.\d+\.ndjson\.gz$/.test(f))) {
    for (const row of await readResources(join(dir, name))) {
      assert.equal(row.resourceType, "Patient");
    }
  }
  const outcomes = await readResources(join(dir, "error", "OperationOutcome.ndjson.gz"));
  assert.ok(outcomes.length >= 1);
  const text = JSON.stringify(outcomes[0]);
  assert.match(text, /\/files\/[^ ]+Condition\.\d+\.ndjson/, "names the file URL");
  assert.match(text, /listed as Patient but line 1 holds a Condition/);
});

Deno.test("an exception inside our own stream code fails at once as a bug, never retried", async () => {
  await using server = await FakeFhirServer.start({
    pollsUntilReady: 0,
    synthetic: { type: "Observation", files: 1, bytesPerFile: 6 * 1024 * 1024 },
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  let stderr = "";
  // The progress callback runs inside the download loop: a TypeError there is our bug.
  const code = await main(["bulk", "--fhir-url", server.baseUrl, "--type", "Observation", dir], {
    clock: new FakeClock(),
    stdout: () => {},
    stderr: (t) => (stderr += t),
    isTty: false,
    reporter: () => ({
      emit: (e: ProgressEvent) => {
        if (e.type === "file-bytes") (null as unknown as { x: number }).x;
      },
      close: () => {},
    }),
  });
  assert.equal(code, 70, stderr);
  assert.match(
    stderr,
    /error: internal error while handling GET .*TypeError.*This is a bug in smart-fetch/,
  );
  assert.equal(requestsOf(server, "file").length, 1, "not retried as a lost connection");
  assert.doesNotMatch(stderr, /connection lost/);
});
