/** `bulk` end to end against the fake server: layout, contents, log, metadata, options. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { DEFAULT_TYPES } from "../src/fhir/resource_types.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { expectedIds } from "./helpers/bulk_e2e.ts";
import { runCli } from "./helpers/cli.ts";
import { assertCumulusReadable } from "./helpers/cumulus.ts";
import { idsByType, listFiles, logRows, metadata, tempDir } from "./helpers/folder.ts";

Deno.test("a system export writes every type, the log and .metadata, then releases the job", async () => {
  await using server = await FakeFhirServer.start({ patients: 6, resourcesPerFile: 10 });
  await using out = await tempDir();
  const dir = join(out.path, "export");
  const clock = new FakeClock();
  const result = await runCli(["bulk", "--fhir-url", server.baseUrl, dir], { clock });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /Bulk export complete/);

  assert.deepEqual(await idsByType(dir), expectedIds(server));
  const view = await assertCumulusReadable(dir);
  assert.equal(view.group, "", "a system export has no Group");
  assert.match(String(view.exportTime), /^\d{4}-/);
  const files = await listFiles(dir);
  assert.ok(files.includes("Observation.002.ndjson.gz"), "big types span several numbered files");
  assert.ok(files.every((f) => !f.endsWith(".part")), "no temporary file left");
  for (const f of files) {
    assert.equal((await Deno.stat(join(dir, f))).mode! & 0o007, 0, `${f} is world-readable`);
  }
  assert.equal((await Deno.stat(dir)).mode! & 0o007, 0);

  const rows = await logRows(dir);
  const ids = new Set(rows.map((r) => r.exportId));
  assert.equal(ids.size, 1, "one exportId for the whole export");
  const events = rows.map((r) => r.eventId);
  assert.equal(events[0], "kickoff");
  assert.deepEqual(events.filter((e) => e.startsWith("status_") && e !== "status_progress"), [
    "status_complete",
    "status_page_complete",
  ]);
  assert.equal(
    events.filter((e) => e === "download_request").length,
    events.filter((e) => e === "download_complete").length,
  );
  assert.equal(events.at(-1), "export_complete");
  const kickoff = rows[0]!.eventDetail;
  assert.match(String(kickoff.exportUrl), /^http:\/\/127\.0\.0\.1:\d+\/fhir\/\$export\?_type=/);
  assert.equal(kickoff.softwareName, "Fake FHIR");
  const done = rows.at(-1)!.eventDetail;
  const totalResources = [...expectedIds(server).values()].reduce((n, l) => n + l.length, 0);
  assert.equal(done.resources, totalResources);

  const meta = await metadata(dir);
  assert.equal(meta.kind, "output");
  assert.equal(meta.since, null);
  assert.deepEqual(Object.keys(meta.done as object).sort(), [...DEFAULT_TYPES].sort());
  assert.equal(meta["bulk-status"], undefined, "no job in flight");
  assert.deepEqual((meta.filters as Record<string, string[]>).Observation, [
    "category=social-history,vital-signs,imaging,laboratory,survey,exam,procedure,therapy,activity",
  ]);

  // The kick-off sent _type and _typeFilter once each, the filter's commas escaped.
  const kick = server.requests.filter((r) => r.kind === "kickoff");
  assert.equal(kick.length, 1);
  assert.equal(kick[0]!.query.split("&").filter((p) => p.startsWith("_type=")).length, 1);
  assert.match(
    kick[0]!.query,
    /_typeFilter=Observation%3Fcategory%3Dsocial-history%252Cvital-signs/,
  );
  assert.equal(kick[0]!.headers["prefer"], "respond-async");
  // The job was released.
  assert.equal(server.requests.filter((r) => r.kind === "delete").length, 1);

  // A rerun has nothing to do and starts no new export.
  const again = await runCli(["bulk", "--fhir-url", server.baseUrl, dir], { clock });
  assert.equal(again.code, 0);
  assert.match(again.stdout, /already exported/);
  assert.equal(server.requests.filter((r) => r.kind === "kickoff").length, 1);
});

Deno.test("a Group export by POST, a Patient-level export, and GET falling back to POST on 405", async () => {
  await using server = await FakeFhirServer.start({ patients: 6, kickoffMethods: ["POST"] });
  await using out = await tempDir();
  const clock = new FakeClock();
  const group = join(out.path, "even");
  const r1 = await runCli([
    "bulk",
    "--fhir-url",
    server.baseUrl,
    "--group",
    "even",
    "--type",
    "Patient,Condition",
    group,
  ], { clock });
  assert.equal(r1.code, 0, r1.stderr);
  const even = server.groupMembers("even");
  const expected = expectedIds(server, DEFAULT_TYPES, { patients: even });
  assert.deepEqual(
    await idsByType(group),
    new Map([["Patient", expected.get("Patient")!], ["Condition", expected.get("Condition")!]]),
  );
  const kicks = server.requests.filter((r) => r.kind === "kickoff");
  assert.deepEqual(kicks.map((k) => [k.method, k.status]), [["GET", 405], ["POST", 202]]);
  assert.match(kicks[1]!.path, /\/Group\/even\/\$export$/);
  assert.equal(JSON.parse(kicks[1]!.body!).resourceType, "Parameters");
  assert.equal((await assertCumulusReadable(group)).group, "even");
  const rows = await logRows(group);
  const lastKickoff = rows.filter((r) => r.eventId === "kickoff").at(-1)!;
  assert.match(String(lastKickoff.eventDetail.exportUrl), /\/Group\/even\/\$export$/);
  assert.ok(
    rows.some((r) => r.eventId === "status_complete" && r.exportId === lastKickoff.exportId),
  );

  const patients = join(out.path, "patients");
  const r2 = await runCli(
    [
      "bulk",
      "--fhir-url",
      server.baseUrl,
      "--patient-level",
      "--kickoff",
      "post",
      "--type",
      "Patient",
      patients,
    ],
    { clock },
  );
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(
    server.requests.filter((r) => r.kind === "kickoff").at(-1)!.path,
    /\/Patient\/\$export$/,
  );
  assert.equal((await idsByType(patients)).get("Patient")!.length, 6);
});

Deno.test("partial manifests are followed, and --no-compression writes plain .ndjson", async () => {
  await using server = await FakeFhirServer.start({
    patients: 4,
    resourcesPerFile: 5,
    manifestPageSize: 3,
  });
  await using out = await tempDir();
  const dir = join(out.path, "plain");
  const result = await runCli(
    [
      "bulk",
      "--fhir-url",
      server.baseUrl,
      "--type",
      "Patient,Encounter,Condition",
      "--no-compression",
      dir,
    ],
    { clock: new FakeClock() },
  );
  assert.equal(result.code, 0, result.stderr);
  const files = await listFiles(dir);
  assert.ok(files.some((f) => f === "Encounter.001.ndjson"));
  assert.ok(!files.some((f) => f.endsWith(".gz")));
  const ids = await idsByType(dir);
  const expected = expectedIds(server);
  for (const t of ["Patient", "Encounter", "Condition"]) {
    assert.deepEqual(ids.get(t), expected.get(t));
  }
  await assertCumulusReadable(dir);
  const rows = await logRows(dir);
  const pages = rows.filter((r) => r.eventId === "status_page_complete").length;
  assert.ok(pages > 1);
  assert.equal(
    rows.find((r) => r.eventId === "manifest_complete")!.eventDetail.totalManifests,
    pages,
  );
});

Deno.test("errors the server reports are kept in error/, summarized, exit 3, and do not restart the export", async () => {
  await using server = await FakeFhirServer.start({
    patients: 3,
    manifestErrors: [
      { severity: "error", diagnostics: "Observation search failed for pat-0002" },
      { severity: "information", diagnostics: "Export took 3 seconds" },
    ],
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const clock = new FakeClock();
  const result = await runCli([
    "bulk",
    "--fhir-url",
    server.baseUrl,
    "--type",
    "Patient,Observation",
    dir,
  ], { clock });
  assert.equal(result.code, 3, result.stderr);
  assert.match(result.stdout, /Observation search failed for pat-0002/);
  assert.match(result.stdout, /Export took 3 seconds/);
  assert.ok((await listFiles(dir)).includes("error/OperationOutcome.001.ndjson.gz"));
  await assertCumulusReadable(dir);
  const meta = await metadata(dir);
  assert.deepEqual(Object.keys(meta.done as object).sort(), ["Observation", "Patient"]);
  const again = await runCli([
    "bulk",
    "--fhir-url",
    server.baseUrl,
    "--type",
    "Patient,Observation",
    dir,
  ], { clock });
  assert.equal(again.code, 3);
  assert.equal(server.requests.filter((r) => r.kind === "kickoff").length, 1, "no new export");
});

Deno.test("a since export passes _since and keeps the server's deletions in deleted/", async () => {
  await using server = await FakeFhirServer.start({ patients: 4 });
  const gone = server.resources("Condition")[0]!;
  server.mutate({ remove: [`Condition/${gone.id}`] });
  await using out = await tempDir();
  const dir = join(out.path, "since");
  const result = await runCli(
    [
      "bulk",
      "--fhir-url",
      server.baseUrl,
      "--type",
      "Condition",
      "--since",
      "2024-01-01T00:00:00Z",
      dir,
    ],
    { clock: new FakeClock() },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    server.requests.find((r) => r.kind === "kickoff")!.query,
    /_since=2024-01-01T00%3A00%3A00Z/,
  );
  const deleted = (await listFiles(dir)).filter((f) => f.startsWith("deleted/"));
  assert.deepEqual(deleted, ["deleted/Bundle.001.ndjson.gz"]);
  assert.ok(
    (await assertCumulusReadable(dir, { allowNoData: true })).deleted.get("Condition")?.has(
      String(gone.id),
    ),
  );
  const meta = await metadata(dir);
  assert.equal(meta.since, "2024-01-01T00:00:00Z");
  assert.equal(meta.sinceMode, "updated");
});

Deno.test("bad input: a clear one-line error, exit 2, and nothing written", async () => {
  await using server = await FakeFhirServer.start({ patients: 1 });
  await using out = await tempDir();
  const dir = join(out.path, "never");
  const clock = new FakeClock();
  const cases: [string[], RegExp][] = [
    [["--type", "Patient,Nope"], /Unknown resource type "Nope"/],
    [
      ["--type", "Patient", "--type-filter", "Condition?code=1"],
      /Condition but that type is not included in --type/,
    ],
    [["--type-filter", "Observation"], /'Resource\?params'/],
    [["--since", "yesterday"], /--since.*'yesterday' is invalid/],
    [["--since", "auto"], /use smart-fetch export/],
    [["--group", "a/b"], /not a Group id/],
    [["--group", "x", "--patient-level"], /cannot be used together/],
    [["--smart-client-id", "abc"], /without --smart-key/],
    [["--basic-user", "u", "--bearer-token", "t"], /Multiple authentication methods/],
    [["--max-connections", "0"], /--max-connections/],
  ];
  for (const [flags, message] of cases) {
    const r = await runCli(["bulk", "--fhir-url", server.baseUrl, ...flags, dir], { clock });
    assert.equal(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    const created = await Deno.stat(dir).then(() => true, () => false);
    if (created) {
      assert.deepEqual(
        (await listFiles(dir)).filter((f) => f !== ".lock"),
        [],
        `${flags.join(" ")} wrote files`,
      );
    }
  }
  const url = await runCli(["bulk", "--fhir-url", server.baseUrl, "https://example.org/out"], {
    clock,
  });
  assert.equal(url.code, 2);
  assert.match(url.stderr, /looks like a URL/);
});

Deno.test("--cancel releases the export in progress and forgets it; with none in progress it says so", async () => {
  await using server = await FakeFhirServer.start({ patients: 2 });
  server.addFault({
    target: "status",
    times: Infinity,
    fault: { kind: "status", status: 202, retryAfter: "600" },
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const clock = new FakeClock();
  const args = ["bulk", "--fhir-url", server.baseUrl, "--type", "Patient", dir];
  const waiting = await runCli([...args, "--max-wait", "2m"], { clock });
  assert.equal(waiting.code, 1);
  assert.match(waiting.stderr, /has not finished the export/);
  const statusUrl = String((await metadata(dir))["bulk-status"]);
  assert.match(statusUrl, /\$export-status\//);

  const cancel = await runCli([...args, "--cancel"], { clock });
  assert.equal(cancel.code, 0, cancel.stderr);
  assert.match(cancel.stdout, /Cancelled the bulk export/);
  const deletes = server.requests.filter((r) => r.kind === "delete");
  assert.deepEqual(deletes.map((r) => r.path), [new URL(statusUrl).pathname]);
  const meta = await metadata(dir);
  assert.equal(meta["bulk-status"], undefined);
  assert.equal(meta.bulk, undefined);

  assert.ok(meta.cancelled, "the cancellation is recorded for status");

  const again = await runCli([...args, "--cancel"], { clock });
  assert.equal(again.code, 0, "nothing to cancel is not a failure");
  assert.match(again.stdout, /nothing to cancel/);
});

Deno.test("types the server does not list are skipped with a message; created since mode filters by date", async () => {
  await using server = await FakeFhirServer.start({
    patients: 3,
    supportedTypes: ["Patient", "Condition", "Observation", "Encounter"],
    lastUpdatedSearchParam: false,
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await runCli(
    [
      "bulk",
      "--fhir-url",
      server.baseUrl,
      "--type",
      "Patient,Condition,Device,Encounter",
      "--since",
      "2024-01-01",
      dir,
    ],
    { clock: new FakeClock() },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Skipping Device because the server does not support it\./);
  assert.match(r.stderr, /using 'created'/);
  const query = new URLSearchParams(server.requests.find((q) => q.kind === "kickoff")!.query);
  assert.equal(query.get("_type"), "Condition,Encounter,Patient");
  assert.equal(query.get("_since"), null, "created mode sends no _since");
  assert.equal(query.get("_typeFilter"), "Condition?recorded-date=gt2024-01-01");
  const meta = await metadata(dir);
  assert.equal(meta.sinceMode, "created");
  assert.deepEqual(meta.sinceResources, ["Condition"]);
  assert.deepEqual(Object.keys(meta.filters as object), ["Patient", "Encounter", "Condition"]);
  await assertCumulusReadable(dir);
});
