/**
 * `bulk` end to end when URLs expire or files live elsewhere: an expired status URL after an
 * interrupted run, expired file URLs (fresh ones from a re-poll, or a new export of one type), a
 * 307 to another origin, and `requiresAccessToken: false`. The token never leaves its origin.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer, type FakeServerOptions } from "./fake_server/mod.ts";
import { assertComplete, requestsOf } from "./helpers/bulk_e2e.ts";
import { runCli } from "./helpers/cli.ts";
import { logRows, metadata, tempDir } from "./helpers/folder.ts";

const TYPES = ["Patient", "Condition", "Observation"];
const KEY = fileURLToPath(new URL("../testdata/keys/rs384.private.jwks.json", import.meta.url));
const PUBLIC_JWKS = JSON.parse(
  await Deno.readTextFile(new URL("../testdata/keys/rs384.public.jwks.json", import.meta.url)),
);
const SMART: FakeServerOptions["auth"] = {
  mode: "smart",
  clients: [{ clientId: "e2e-client", jwks: PUBLIC_JWKS }],
};
const SMART_FLAGS = ["--smart-client-id", "e2e-client", "--smart-key", KEY];

function bulk(server: FakeFhirServer, dir: string, clock: FakeClock, ...flags: string[]) {
  return runCli(["bulk", "--fhir-url", server.baseUrl, "--type", TYPES.join(","), ...flags, dir], {
    clock,
  });
}

Deno.test("an export that expired while no run was waiting is started again on the rerun", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({
    patients: 3,
    pollsUntilReady: 3,
    progressRetryAfter: "30",
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");

  const first = await bulk(server, dir, clock, "--max-wait", "45s");
  assert.equal(first.code, 1, first.stderr);
  assert.match(first.stderr, /--max-wait/);
  assert.equal(first.stderr.trim().split("\n").filter((l) => l.startsWith("error:")).length, 1);
  const [job] = requestsOf(server, "kickoff");
  const saved = (await metadata(dir))["bulk-status"];
  assert.equal(saved, `${server.baseUrl}/$export-status/${job!.jobId}`);

  server.expireExports();
  const second = await bulk(server, dir, clock, "--max-wait", "10m");
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr + second.stdout, /expired/);
  await assertComplete(dir, server, TYPES);

  const kickoffs = requestsOf(server, "kickoff");
  assert.equal(kickoffs.length, 2);
  assert.equal(
    new URLSearchParams(kickoffs[1]!.query).get("_type"),
    [...TYPES].sort().join(","),
  );
  // Only the new job's files were fetched.
  assert.ok(requestsOf(server, "file").every((q) => q.jobId === kickoffs[1]!.jobId));

  const rows = await logRows(dir);
  const kickRows = rows.filter((r) => r.eventId === "kickoff");
  assert.equal(kickRows.length, 2);
  const [oldId, newId] = kickRows.map((r) => r.exportId);
  assert.notEqual(oldId, newId);
  assert.ok(
    rows.some((r) =>
      r.exportId === oldId && r.eventId === "status_error" && r.eventDetail.code === 404
    ),
  );
  assert.ok(rows.some((r) => r.exportId === newId && r.eventId === "status_complete"));
  assert.ok(!rows.some((r) => r.exportId === oldId && r.eventId === "status_complete"));
  assert.equal(rows.at(-1)!.eventId, "export_complete");
  assert.equal(rows.at(-1)!.exportId, newId);
  assert.equal((await metadata(dir))["bulk-status"], undefined);
});

Deno.test("a file URL that answers 410 once gets a fresh URL from the same export", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({ patients: 3 });
  server.addFault({
    target: "file",
    pathIncludes: "Condition.001",
    fault: { kind: "status", status: 410 },
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock);
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);
  assert.equal(requestsOf(server, "kickoff").length, 1, "no new kick-off");
  // Two 202s and the manifest, then one more poll for fresh URLs.
  assert.deepEqual(requestsOf(server, "status").map((q) => q.status), [202, 202, 200, 200]);
  const tries = requestsOf(server, "file").filter((q) => q.path.includes("Condition.001"));
  assert.deepEqual(tries.map((q) => q.status), [410, 200]);
  const rows = await logRows(dir);
  assert.equal(rows.filter((row) => row.eventId === "kickoff").length, 1);
  assert.equal(new Set(rows.map((row) => row.exportId)).size, 1);
  const errors = rows.filter((row) => row.eventId === "download_error");
  assert.deepEqual(errors.map((row) => row.eventDetail.code), [410]);
});

Deno.test("a type whose files stay expired is exported again, alone", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({ patients: 3 });
  const conditionFiles = Math.ceil(server.resources("Condition").length / 25);
  // Every Condition file of the first export answers 410: on the first try and after the re-poll.
  server.addFault({
    target: "file",
    pathIncludes: "/Condition.",
    times: 2 * conditionFiles,
    fault: { kind: "status", status: 410 },
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock);
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);

  const kickoffs = requestsOf(server, "kickoff");
  assert.equal(kickoffs.length, 2);
  assert.equal(new URLSearchParams(kickoffs[1]!.query).get("_type"), "Condition");
  assert.equal(new URLSearchParams(kickoffs[1]!.query).get("_typeFilter"), null);
  const secondJobFiles = requestsOf(server, "file").filter((q) => q.jobId === kickoffs[1]!.jobId);
  assert.equal(secondJobFiles.length, conditionFiles);
  assert.ok(secondJobFiles.every((q) => q.path.includes("/Condition.") && q.status === 200));
  // Other types were downloaded once, from the first export.
  const firstJobOk = requestsOf(server, "file").filter((q) =>
    q.jobId === kickoffs[0]!.jobId && q.status === 200
  );
  assert.ok(firstJobOk.length > 0 && firstJobOk.every((q) => !q.path.includes("/Condition.")));

  const rows = await logRows(dir);
  const kickRows = rows.filter((row) => row.eventId === "kickoff");
  assert.equal(kickRows.length, 2);
  assert.ok(
    rows.some((row) => row.exportId === kickRows[1]!.exportId && row.eventId === "status_complete"),
  );
  const meta = await metadata(dir);
  assert.deepEqual(Object.keys(meta.done as object).sort(), [...TYPES].sort());
  // Both jobs were released.
  assert.equal(requestsOf(server, "delete").length, 2);
});

Deno.test("when one file of a type stays expired, the type's other files are not kept twice", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({ patients: 3, resourcesPerFile: 10 });
  // Observation.001 downloads; Observation.002 answers 410 on its try and after the re-poll.
  server.addFault({
    target: "file",
    pathIncludes: "/Observation.002.",
    times: 2,
    fault: { kind: "status", status: 410 },
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock);
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);
  const kickoffs = requestsOf(server, "kickoff");
  assert.equal(kickoffs.length, 2);
  assert.equal(new URLSearchParams(kickoffs[1]!.query).get("_type"), "Observation");
});

Deno.test("files redirected (307) to another origin get no token there", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({
    patients: 3,
    auth: SMART,
    redirectFilesToSecondOrigin: true,
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock, ...SMART_FLAGS);
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);
  assert.deepEqual(server.violations, []);
  const main = server.requests.filter((q) => q.listener === "main" && q.kind === "file");
  const second = server.requests.filter((q) => q.listener === "second");
  assert.ok(main.length > 0 && main.every((q) => q.status === 307));
  assert.ok(main.every((q) => /^Bearer /.test(q.headers["authorization"] ?? "")));
  assert.equal(second.length, main.length);
  assert.ok(second.every((q) => q.status === 200 && !("authorization" in q.headers)));
});

Deno.test("requiresAccessToken false: no file request carries the token", async () => {
  const cases: [string, FakeServerOptions][] = [
    ["files on a second origin", { filesOnSecondOrigin: true }],
    ["files on the FHIR origin", { requiresAccessToken: false }],
  ];
  for (const [what, options] of cases) {
    const clock = new FakeClock();
    await using server = await FakeFhirServer.start({ patients: 3, auth: SMART, ...options });
    await using out = await tempDir();
    const dir = join(out.path, "x");
    const r = await bulk(server, dir, clock, ...SMART_FLAGS);
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    await assertComplete(dir, server, TYPES);
    assert.deepEqual(server.violations, [], what);
    const files = requestsOf(server, "file");
    assert.ok(files.length > 0, what);
    assert.ok(files.every((q) => !("authorization" in q.headers) && q.status === 200), what);
    const expectedListener = options.filesOnSecondOrigin ? "second" : "main";
    assert.ok(files.every((q) => q.listener === expectedListener), what);
    // The FHIR endpoints still got the token.
    for (const q of requestsOf(server, "kickoff", "status", "delete")) {
      assert.match(q.headers["authorization"] ?? "", /^Bearer /, `${what}: ${q.kind}`);
    }
  }
});
