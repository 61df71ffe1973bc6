import assert from "node:assert/strict";
import { join } from "node:path";
import { parseManifest } from "../src/bulk/manifest.ts";
import { assignNames } from "../src/bulk/naming.ts";
import { ServerError } from "../src/errors.ts";

const FROM = "https://ehr.example.org/fhir/$export-status/1";

Deno.test("a manifest with output, error (or STU4 outcome), deleted and a next link", () => {
  const page = parseManifest({
    transactionTime: "2026-01-01T00:00:00Z",
    requiresAccessToken: false,
    output: [{ type: "Patient", url: "https://s3/a", count: 3 }, {
      type: "Condition",
      url: "/files/b",
    }],
    outcome: [{ type: "OperationOutcome", url: "https://s3/e" }],
    deleted: [{ type: "Bundle", url: "https://s3/d" }],
    link: [{ relation: "next", url: "?page=2" }],
  }, FROM);
  assert.equal(page.requiresAccessToken, false);
  assert.deepEqual(page.entries.map((e) => [e.itemType, e.type, e.url]), [
    ["output", "Patient", "https://s3/a"],
    ["output", "Condition", "https://ehr.example.org/files/b"],
    ["error", "OperationOutcome", "https://s3/e"],
    ["deleted", "Bundle", "https://s3/d"],
  ]);
  assert.equal(page.next, "https://ehr.example.org/fhir/$export-status/1?page=2");
  assert.deepEqual(page.counts, { output: 2, error: 1, deleted: 1 });
  // requiresAccessToken missing: send the token (to the server's own origin only).
  assert.equal(parseManifest({ transactionTime: "x", output: [] }, FROM).requiresAccessToken, true);
});

Deno.test("a hostile manifest cannot name files outside the folder", () => {
  for (const type of ["../../etc/passwd", "a/b", ".hidden", "Patient.x", ""]) {
    assert.throws(
      () => parseManifest({ transactionTime: "x", output: [{ type, url: "https://s3/a" }] }, FROM),
      (e: Error) => e instanceof ServerError && /not a FHIR resource type name/.test(e.message),
    );
  }
  assert.throws(
    () =>
      parseManifest({
        transactionTime: "x",
        output: [{ type: "Patient", url: "file:///etc/passwd" }],
      }, FROM),
    ServerError,
  );
  assert.throws(() => parseManifest({ output: [] }, FROM), /transactionTime/);
});

Deno.test("local names: numbered per type in manifest order, stable across polls, never reused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const e = (type: string, url: string, itemType: "output" | "error" | "deleted" = "output") => ({
      itemType,
      type,
      url,
    });
    const first = await assignNames(
      dir,
      [
        e("Patient", "u1"),
        e("Condition", "u2"),
        e("Patient", "u3"),
        e("OperationOutcome", "u4", "error"),
        e("Bundle", "u5", "deleted"),
      ],
      [],
      true,
    );
    assert.deepEqual(first.map((f) => f.name), [
      "Patient.001.ndjson.gz",
      "Condition.001.ndjson.gz",
      "Patient.002.ndjson.gz",
      "error/OperationOutcome.001.ndjson.gz",
      "deleted/Bundle.001.ndjson.gz",
    ]);
    // A later poll gives new (signed) URLs: same names, new URLs.
    const again = await assignNames(
      dir,
      [e("Patient", "v1"), e("Condition", "v2"), e("Patient", "v3")],
      first,
      true,
    );
    assert.deepEqual(again.map((f) => [f.name, f.url]), [
      ["Patient.001.ndjson.gz", "v1"],
      ["Condition.001.ndjson.gz", "v2"],
      ["Patient.002.ndjson.gz", "v3"],
    ]);
    // A new export into a folder that already has files continues the numbering.
    await Deno.writeTextFile(join(dir, "Patient.007.ndjson.gz"), "");
    const next = await assignNames(dir, [e("Patient", "w1")], [], true);
    assert.equal(next[0]!.name, "Patient.008.ndjson.gz");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
