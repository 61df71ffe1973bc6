/**
 * `bundle DIR`, and `bulk --bundle` / `crawl --bundle` against the fake server: which files are
 * merged, the Bundle's shape, the source files removed only after it is written, and every
 * refusal (nothing changed).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { isoLocalMicros } from "../src/log/time_format.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { expectedIds, requestsOf } from "./helpers/bulk_e2e.ts";
import { runCli } from "./helpers/cli.ts";
import { listFiles, tempDir } from "./helpers/folder.ts";

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function gunzipText(path: string): Promise<string> {
  const file = await Deno.open(path);
  return await new Response(file.readable.pipeThrough(new DecompressionStream("gzip"))).text();
}

function ndjson(...resources: object[]): string {
  return resources.map((r) => JSON.stringify(r)).join("\n") + "\n";
}

function bundle(dir: string, ...flags: string[]) {
  return runCli(["bundle", ...flags, dir], { clock: new FakeClock(() => 1_767_225_600_000) });
}

function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("error:"));
}

type Entry = { resource: { resourceType: string; id: string } };

/** A folder like an export's: data files of every accepted name, and things to leave alone. */
async function exportLikeFolder(path: string): Promise<void> {
  await Deno.writeFile(
    join(path, "Patient.001.ndjson.gz"),
    await gzip(
      ndjson({ resourceType: "Patient", id: "p1" }, { resourceType: "Patient", id: "p2" }),
    ),
  );
  // Blank lines (and CRLF) are skipped.
  await Deno.writeTextFile(
    join(path, "Condition.ndjson"),
    `\n${JSON.stringify({ resourceType: "Condition", id: "c1" })}\r\n\n  \n`,
  );
  await Deno.writeTextFile(
    join(path, "Observation.jsonl"),
    ndjson({ resourceType: "Observation", id: "o1" }),
  );
  // Two gzip members, as appending writers make.
  const a = await gzip(ndjson({ resourceType: "Encounter", id: "e1" }));
  const b = await gzip(ndjson({ resourceType: "Encounter", id: "e2" }));
  await Deno.writeFile(join(path, "Encounter.jsonl.gz"), new Uint8Array([...a, ...b]));
  await Deno.writeTextFile(join(path, "log.ndjson"), '{"exportId":"x","eventId":"kickoff"}\n');
  await Deno.writeTextFile(join(path, "Device.ndjson.1a2b3c4d.part"), "{half");
  await Deno.writeTextFile(join(path, "notes.txt"), "not FHIR\n");
  await Deno.mkdir(join(path, "error"));
  await Deno.writeTextFile(
    join(path, "error", "OperationOutcome.ndjson"),
    ndjson({ resourceType: "OperationOutcome", id: "oo" }),
  );
}

Deno.test("bundle merges the top-level NDJSON files into Bundle.json.gz, then removes them", async () => {
  await using out = await tempDir();
  await exportLikeFolder(out.path);
  const r = await bundle(out.path);
  assert.equal(r.code, 0, r.stderr);
  const path = join(out.path, "Bundle.json.gz");
  assert.equal(
    r.stdout,
    `Bundled 6 resources from 4 file(s) in ${out.path} into ${path}, and removed those files.\n`,
  );
  const json = JSON.parse(await gunzipText(path));
  assert.deepEqual(Object.keys(json), ["resourceType", "meta", "type", "timestamp", "entry"]);
  assert.equal(json.resourceType, "Bundle");
  assert.deepEqual(json.meta, { profile: ["http://hl7.org/fhir/StructureDefinition/Bundle"] });
  assert.equal(json.type, "collection");
  assert.equal(json.timestamp, isoLocalMicros(1_767_225_600_000));
  // Files in name order, rows in file order.
  assert.deepEqual(
    json.entry.map((e: Entry) => `${e.resource.resourceType}/${e.resource.id}`),
    ["Condition/c1", "Encounter/e1", "Encounter/e2", "Observation/o1", "Patient/p1", "Patient/p2"],
  );
  assert.deepEqual(json.entry[0], { resource: { resourceType: "Condition", id: "c1" } });
  // The temporary file a killed run left is not a source: it is removed, not bundled.
  assert.deepEqual(await listFiles(out.path), [
    "Bundle.json.gz",
    "error/OperationOutcome.ndjson",
    "log.ndjson",
    "notes.txt",
  ]);
});

Deno.test("bundle --no-compression writes Bundle.json; -c is accepted and not read", async () => {
  await using out = await tempDir();
  await Deno.writeTextFile(join(out.path, "Patient.ndjson"), ndjson({ resourceType: "Patient" }));
  // A config file that would fail if it were read (and one that does not exist).
  const bad = join(out.path, "bad.toml");
  await Deno.writeTextFile(bad, "not-a-flag = 1\ncompression = true\n");
  const r = await runCli([
    "-c",
    "/nonexistent.toml",
    "bundle",
    "--no-compression",
    "-c",
    bad,
    out.path,
  ], {
    clock: new FakeClock(),
  });
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(await Deno.readTextFile(join(out.path, "Bundle.json")));
  assert.deepEqual(json.entry, [{ resource: { resourceType: "Patient" } }]);
  assert.deepEqual(await listFiles(out.path), ["Bundle.json", "bad.toml"]);
});

Deno.test("bundle refuses a second run, an empty folder and a missing one (exit 2, nothing changed)", async () => {
  await using out = await tempDir();
  const empty = await bundle(out.path);
  assert.equal(empty.code, 2);
  assert.deepEqual(errorLines(empty.stderr), [`error: No FHIR files found in '${out.path}'.`]);
  await Deno.writeTextFile(join(out.path, "log.ndjson"), "{}\n");
  assert.equal((await bundle(out.path)).code, 2, "the log alone is no FHIR file");

  const missing = join(out.path, "nope");
  const gone = await bundle(missing);
  assert.equal(gone.code, 2);
  assert.deepEqual(errorLines(gone.stderr), [`error: Folder '${missing}' does not exist.`]);

  await Deno.writeTextFile(join(out.path, "Patient.ndjson"), ndjson({ resourceType: "Patient" }));
  assert.equal((await bundle(out.path)).code, 0);
  const before = await Deno.readFile(join(out.path, "Bundle.json.gz"));
  const second = await bundle(out.path);
  assert.equal(second.code, 2);
  assert.deepEqual(errorLines(second.stderr), [
    `error: Bundle file '${join(out.path, "Bundle.json.gz")}' already exists.`,
  ]);
  await Deno.writeTextFile(
    join(out.path, "Condition.ndjson"),
    ndjson({ resourceType: "Condition" }),
  );
  const again = await bundle(out.path);
  assert.equal(again.code, 2);
  assert.deepEqual(errorLines(again.stderr), [
    `error: Bundle file '${join(out.path, "Bundle.json.gz")}' already exists.`,
  ]);
  assert.deepEqual(await Deno.readFile(join(out.path, "Bundle.json.gz")), before);
  assert.deepEqual(await listFiles(out.path), ["Bundle.json.gz", "Condition.ndjson", "log.ndjson"]);

  const noDir = await runCli(["bundle"], { clock: new FakeClock() });
  assert.equal(noDir.code, 2);
  assert.match(noDir.stderr, /^error: Give the folder to bundle/m);
});

Deno.test("a bad line names its file and line; nothing is written and no file removed", async () => {
  const cases: [string, string | Uint8Array, string][] = [
    [
      "Observation.ndjson",
      '{"resourceType":"Observation"}\n\n{"resourceType":',
      "line 3: not valid JSON",
    ],
    [
      "Observation.ndjson",
      '{"resourceType":"Observation"}\n[1,2]\n',
      "line 2: not a FHIR resource",
    ],
    ["Observation.ndjson", '"text"\n', "line 1: not a FHIR resource"],
    ["Observation.ndjson", '{"id":"no-type"}\n', "line 1: not a FHIR resource"],
    [
      "Observation.ndjson.gz",
      new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]),
      "is not a complete gzip file",
    ],
  ];
  for (const [name, content, why] of cases) {
    await using out = await tempDir();
    await Deno.writeTextFile(
      join(out.path, "Condition.ndjson"),
      ndjson({ resourceType: "Condition" }),
    );
    const bad = join(out.path, name);
    if (typeof content === "string") await Deno.writeTextFile(bad, content);
    else await Deno.writeFile(bad, content);
    const r = await bundle(out.path);
    assert.equal(r.code, 2, r.stderr);
    const [line] = errorLines(r.stderr);
    assert.ok(line?.startsWith(`error: ${bad}`) && line.includes(why), `${why}: ${r.stderr}`);
    assert.match(line!, /no Bundle was written/);
    assert.deepEqual(await listFiles(out.path), ["Condition.ndjson", name], "no Bundle, no .part");
  }
});

Deno.test("bundle streams many resources across many writes into valid JSON", async () => {
  await using out = await tempDir();
  const rows = Array.from({ length: 20_000 }, (_, i) => ({
    resourceType: "Observation",
    id: `o${i}`,
    valueString: "x".repeat(i % 50),
  }));
  await Deno.writeFile(join(out.path, "Observation.ndjson.gz"), await gzip(ndjson(...rows)));
  const r = await bundle(out.path);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(await gunzipText(join(out.path, "Bundle.json.gz")));
  assert.deepEqual(json.entry.map((e: { resource: unknown }) => e.resource), rows);
});

Deno.test("bulk --bundle bundles the finished export; a rerun says it is already bundled", async () => {
  await using server = await FakeFhirServer.start({ patients: 4, resourcesPerFile: 5 });
  await using out = await tempDir();
  const dir = join(out.path, "export");
  const types = ["Patient", "Condition", "Encounter"];
  const args = ["bulk", "--fhir-url", server.baseUrl, "--type", types.join(","), "--bundle", dir];
  const r = await runCli(args, { clock: new FakeClock() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Bulk export complete[\s\S]*Bundled \d+ resources from \d+ file\(s\)/);

  const files = await listFiles(dir);
  assert.ok(files.includes("Bundle.json.gz") && files.includes("log.ndjson"), files.join());
  assert.deepEqual(files.filter((f) => /^[A-Z]\w+\.\d+\.ndjson/.test(f)), [], "sources removed");
  const json = JSON.parse(await gunzipText(join(dir, "Bundle.json.gz")));
  const got = new Map<string, string[]>();
  for (const { resource } of json.entry as Entry[]) {
    got.set(resource.resourceType, [...(got.get(resource.resourceType) ?? []), resource.id]);
  }
  for (const ids of got.values()) ids.sort();
  assert.deepEqual(got, expectedIds(server, types));

  const kickoffs = requestsOf(server, "kickoff").length;
  const again = await runCli(args, { clock: new FakeClock() });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already exported[\s\S]*already bundled in .*Bundle\.json\.gz/);
  assert.equal(requestsOf(server, "kickoff").length, kickoffs, "no new export");
});

Deno.test("crawl --bundle --no-compression bundles the crawl into Bundle.json", async () => {
  await using server = await FakeFhirServer.start({ patients: 4 });
  await using out = await tempDir();
  const dir = join(out.path, "crawl");
  const r = await runCli([
    "crawl",
    "--fhir-url",
    server.baseUrl,
    "--type",
    "Patient,Condition",
    "--id-list",
    "pat-0001,pat-0003",
    "--no-compression",
    "--bundle",
    dir,
  ], { clock: new FakeClock() });
  assert.equal(r.code, 0, r.stderr);
  const files = await listFiles(dir);
  assert.ok(files.includes("Bundle.json"), files.join());
  assert.deepEqual(files.filter((f) => /^(Patient|Condition)\.ndjson/.test(f)), []);
  const json = JSON.parse(await Deno.readTextFile(join(dir, "Bundle.json")));
  const ids = (json.entry as Entry[]).map((e) => `${e.resource.resourceType}/${e.resource.id}`);
  const expected = expectedIds(server, ["Patient", "Condition"], {
    patients: ["pat-0001", "pat-0003"],
  });
  assert.deepEqual(
    ids.sort(),
    [...expected].flatMap(([type, list]) => list.map((id) => `${type}/${id}`)).sort(),
  );
});
