/**
 * `single` against the fake server: reads and searches printed pretty or compact, Binary data
 * as raw bytes, the client's one-line errors and exit codes, and paths that would leave the
 * server of --fhir-url (refused before any request).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { requestsOf } from "./helpers/bulk_e2e.ts";
import { runCli } from "./helpers/cli.ts";
import { tempDir } from "./helpers/folder.ts";

function single(server: FakeFhirServer, ...args: string[]) {
  return runCli(["single", "--fhir-url", server.baseUrl, ...args], { clock: new FakeClock() });
}

Deno.test("single prints a resource as pretty JSON, or compact on one line", async () => {
  await using server = await FakeFhirServer.start({ patients: 3 });
  const expected = server.resources("Patient").find((p) => p.id === "pat-0002")!;

  const pretty = await single(server, "Patient/pat-0002");
  assert.equal(pretty.code, 0, pretty.stderr);
  assert.equal(pretty.stdout, JSON.stringify(expected, null, 2) + "\n");
  assert.ok(!pretty.stdout.includes("\x1b"), "plain text, no colours");

  const compact = await single(server, "--compact", "Patient/pat-0002");
  assert.equal(compact.code, 0, compact.stderr);
  assert.equal(compact.stdout, JSON.stringify(expected) + "\n");
  assert.equal(compact.stdout.trimEnd().split("\n").length, 1);

  const reads = requestsOf(server, "read");
  assert.deepEqual(reads.map((r) => [r.method, r.path, r.headers["accept"]]), [
    ["GET", "/fhir/Patient/pat-0002", "application/fhir+json"],
    ["GET", "/fhir/Patient/pat-0002", "application/fhir+json"],
  ]);
});

Deno.test("single runs a search as given and prints its Bundle", async () => {
  await using server = await FakeFhirServer.start({ patients: 3 });
  const r = await single(server, "--compact", "Observation?patient=pat-0001&_count=5");
  assert.equal(r.code, 0, r.stderr);
  const bundle = JSON.parse(r.stdout);
  assert.equal(bundle.resourceType, "Bundle");
  assert.equal(bundle.type, "searchset");
  assert.equal(bundle.entry.length, 5);
  for (const e of bundle.entry) assert.equal(e.resource.subject.reference, "Patient/pat-0001");
  const [search] = requestsOf(server, "search");
  assert.equal(search!.path, "/fhir/Observation");
  assert.equal(search!.query, "patient=pat-0001&_count=5");

  // A leading slash still means "relative to the base", and an absolute URL under the base
  // (a next link copied from that Bundle) is fine.
  const next = bundle.link.find((l: { relation: string }) => l.relation === "next").url;
  const page2 = await single(server, "--compact", next);
  assert.equal(page2.code, 0, page2.stderr);
  assert.equal(JSON.parse(page2.stdout).entry[0].resource.subject.reference, "Patient/pat-0001");
  const slash = await single(server, "--compact", "/Patient/pat-0001");
  assert.equal(slash.code, 0, slash.stderr);
  assert.equal(JSON.parse(slash.stdout).id, "pat-0001");
});

Deno.test("single --binary writes a Binary's decoded data as raw bytes, asked for as FHIR JSON", async () => {
  await using server = await FakeFhirServer.start({ patients: 3 });
  const pdf = server.resources("Binary").find((b) => b.contentType === "application/pdf")!;
  const expected = new Uint8Array(
    await (await fetch(`${server.baseUrl}/Binary/${pdf.id}`, {
      headers: { Accept: "application/pdf" },
    })).arrayBuffer(),
  );
  assert.ok(expected.length > 100);
  const r = await single(server, "--binary", `Binary/${pdf.id}`);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdoutBytes, expected, "byte for byte the Binary's data");
  assert.equal(r.stdout, "", "no text besides the bytes");
  const reads = requestsOf(server, "binary");
  assert.equal(reads.at(-1)!.headers["accept"], "application/fhir+json");
});

Deno.test("single --binary refuses an answer that is not a Binary, and --compact with it", async () => {
  await using server = await FakeFhirServer.start({ patients: 3 });
  const patient = await single(server, "--binary", "Patient/pat-0001");
  assert.equal(patient.code, 2);
  assert.equal(
    patient.stderr.split("\n").filter((l) => l.startsWith("error:")).join("\n"),
    "error: Patient/pat-0001 answered a Patient, not a Binary: --binary prints the data of a Binary resource (such as Binary/123).",
  );
  assert.equal(patient.stdoutBytes.length, 0);

  const both = await single(server, "--binary", "--compact", "Binary/x");
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--binary.*cannot be used with.*--compact/);
});

Deno.test("single reports a 404 as the client's one line, exit 5; -v adds the server's answer", async () => {
  await using server = await FakeFhirServer.start({ patients: 3 });
  const r = await single(server, "Patient/nope");
  assert.equal(r.code, 5);
  assert.equal(r.stdout, "");
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.deepEqual(errors, [
    `error: Patient/nope is not known (HTTP 404 Not Found from GET ${server.baseUrl}/Patient/nope)`,
  ]);
  assert.ok(!r.stderr.includes("OperationOutcome"), "no body without -v");

  const verbose = await single(server, "-v", "Patient/nope");
  assert.equal(verbose.code, 5);
  assert.match(
    verbose.stderr,
    /The server answered:\n.*\{\n.* {2}"resourceType": "OperationOutcome"/,
  );
});

Deno.test("single refuses an empty path and paths off the server, before any request", async () => {
  await using server = await FakeFhirServer.start({ patients: 1 });
  const cases: [string | undefined, RegExp][] = [
    [undefined, /^error: Give the path to read, relative to --fhir-url/m],
    ["", /^error: Give the path to read/m],
    ["  ", /^error: Give the path to read/m],
    [
      "https://other.example/fhir/Patient/1",
      /"https:\/\/other\.example\/fhir\/Patient\/1" is not on the server of --fhir-url/,
    ],
    ["//other.example/Patient/1", /"\/\/other\.example\/Patient\/1" is not on the server/],
    [`${server.origin}/admin/users`, /is not on the server of --fhir-url/],
    ["../admin", /"\.\.\/admin" leads outside --fhir-url/],
  ];
  for (const [path, message] of cases) {
    const r = await single(server, ...(path === undefined ? [] : [path]));
    assert.equal(r.code, 2, `${path}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.deepEqual(server.requests, [], "nothing was sent");

  const noServer = await runCli(["single", "Patient/1"], { clock: new FakeClock() });
  assert.equal(noServer.code, 2);
  assert.match(noServer.stderr, /^error: --fhir-url is required/m);
});

Deno.test("single authenticates like the other commands, and reads --fhir-url from a config file", async () => {
  await using server = await FakeFhirServer.start({
    patients: 1,
    auth: { mode: "bearer", token: "sesame" },
  });
  const refused = await single(server, "Patient/pat-0001");
  assert.equal(refused.code, 5, refused.stderr);
  assert.match(refused.stderr, /needs authentication/);

  await using dir = await tempDir();
  const config = join(dir.path, "ehr.toml");
  await Deno.writeTextFile(config, `fhir-url = "${server.baseUrl}"\nbearer-token = "sesame"\n`);
  const r = await runCli(["single", "-c", config, "Patient/pat-0001"], {
    clock: new FakeClock(),
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).id, "pat-0001");
  assert.equal(requestsOf(server, "read").at(-1)!.headers["authorization"], "Bearer sesame");
});
