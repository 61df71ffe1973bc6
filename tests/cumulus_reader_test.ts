/** Proves the Cumulus ETL reader helper on folders built by hand. */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { assertCumulusReadable, type CumulusView, readLikeCumulus } from "./helpers/cumulus.ts";

type Row = Record<string, unknown>;
/** Rows are written as NDJSON (gzipped for `.gz` names), strings as is, bytes as is. */
type Content = Row[] | string | Uint8Array;

/** Runs `test` on a fresh temp folder holding `files` (paths relative to it); removes it after. */
async function withFolder(files: Record<string, Content>, test: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "cumulus-reader-test-" });
  try {
    for (const [rel, content] of Object.entries(files)) await write(join(dir, rel), content);
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function write(path: string, content: Content): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  if (content instanceof Uint8Array) return Deno.writeFile(path, content);
  const text = typeof content === "string"
    ? content
    : content.map((r) => `${JSON.stringify(r)}\n`).join("");
  const bytes = new TextEncoder().encode(text);
  await Deno.writeFile(
    path,
    typeof content !== "string" && /\.gz$/i.test(path) ? gzipSync(bytes) : bytes,
  );
}

const r = (resourceType: string, id: string, extra: Row = {}) => ({ resourceType, id, ...extra });
const event = (eventId: string, exportId: unknown, eventDetail: Row) => ({
  exportId,
  eventId,
  eventDetail,
});
const kickoff = (id: unknown, exportUrl: unknown) => event("kickoff", id, { exportUrl });
const complete = (id: unknown, transactionTime: unknown) =>
  event("status_complete", id, { transactionTime });
const LOG: [Row, Row] = [
  kickoff("e1", "https://ehr.example/fhir/Group/g1/$export"),
  complete("e1", "2024-05-01T10:00:00Z"),
];
const del = (url: string, method = "DELETE") => ({ request: { method, url } });
const bundle = (type: string, ...entry: Row[]) => r("Bundle", crypto.randomUUID(), { type, entry });

const ids = (view: CumulusView, type: string) =>
  [...(view.resources.get(type)?.keys() ?? [])].sort();
const types = (view: CumulusView) => Object.fromEntries(view.files.map((f) => [f.path, f.type]));

Deno.test("the type comes from the file name when it names one R4 type, else from the first line", async () => {
  await withFolder({
    "Patient.001.ndjson": [r("Patient", "p1")],
    "Patient.mislabeled.ndjson": [r("Observation", "o1"), r("Observation", "o2")],
    "vitals.ndjson": [r("Observation", "o3")],
    "PatientGoal.ndjson": [r("Condition", "c1")],
    "Patient.Goal.ndjson": [r("Observation", "o4")],
    "notes.ndjson": '{"hello":1}\n',
    "broken.ndjson": `not json\n${JSON.stringify(r("Patient", "p8"))}\n`,
    "blank-first.ndjson": `\n${JSON.stringify(r("Patient", "p9"))}\n`,
    "empty.ndjson": "",
  }, async (dir) => {
    const view = await readLikeCumulus(dir);
    assert.deepEqual(types(view), {
      "Patient.001.ndjson": "Patient",
      "Patient.mislabeled.ndjson": "Patient",
      "vitals.ndjson": "Observation",
      "PatientGoal.ndjson": "Condition",
      "Patient.Goal.ndjson": "Observation",
      "notes.ndjson": null,
    });
    assert.deepEqual(ids(view, "Patient"), ["p1"]);
    assert.deepEqual(ids(view, "Observation"), ["o3", "o4"]);
    assert.deepEqual(ids(view, "Condition"), ["c1"]);
    assert.deepEqual(view.warnings.map((w) => w.split(": ")[0]).sort(), [
      "Patient.mislabeled.ndjson:1",
      "Patient.mislabeled.ndjson:2",
      "blank-first.ndjson",
      "broken.ndjson",
      "notes.ndjson",
    ]);
    assert.match(
      view.warnings.join("\n"),
      /Patient\.mislabeled\.ndjson:1: .*"Observation".* not a Patient/,
    );
    assert.deepEqual(view.errors, []);
  });
});

Deno.test("accepted suffixes are case-insensitive; compression is decided by the name only", async () => {
  const plain = new TextEncoder().encode(`${JSON.stringify(r("Immunization", "i1"))}\n`);
  await withFolder({
    "Condition.a.jsonl.gz": [r("Condition", "c1")],
    "Encounter.UPPER.NDJSON": [r("Encounter", "e1")],
    "Procedure.x.NDJSON.GZ": [r("Procedure", "pr1")],
    "Observation.1.ndjson.part": [r("Observation", "o1")],
    "Observation.2.json": [r("Observation", "o2")],
    "Observation.3.ndjson.bz2": [r("Observation", "o3")],
    "Observation.4.ndjson.gz.tmp": [r("Observation", "o4")],
    "Immunization.plain.ndjson.gz": plain,
    "Immunization.zipped.ndjson": gzipSync(plain),
  }, async (dir) => {
    const view = await readLikeCumulus(dir);
    assert.deepEqual(view.files.map((f) => f.path).sort(), [
      "Condition.a.jsonl.gz",
      "Encounter.UPPER.NDJSON",
      "Immunization.plain.ndjson.gz",
      "Immunization.zipped.ndjson",
      "Procedure.x.NDJSON.GZ",
    ]);
    assert.deepEqual([ids(view, "Condition"), ids(view, "Encounter"), ids(view, "Procedure")], [
      ["c1"],
      ["e1"],
      ["pr1"],
    ]);
    assert.equal(view.resources.has("Observation"), false);
    assert.deepEqual(ids(view, "Immunization"), []);
    assert.equal(view.errors.length, 2, view.errors.join("\n"));
    assert.match(view.errors.join("\n"), /Immunization\.plain\.ndjson\.gz: cannot read/);
    assert.match(view.errors.join("\n"), /Immunization\.zipped\.ndjson: cannot read/);
  });
});

Deno.test("links are followed by their target's name; loops and dangling links are harmless", async () => {
  await withFolder({
    "outside/Encounter.ext.ndjson": [r("Encounter", "e1")],
    "outside/data.txt": [r("Patient", "p2")],
    "outside/more/Procedure.ext.ndjson": [r("Procedure", "pr1")],
    "export/Patient.001.ndjson": [r("Patient", "p1")],
    "export/.hidden/Observation.h.ndjson": [r("Observation", "o1")],
    "export/deep/a/b/c/Condition.deep.ndjson": [r("Condition", "c1")],
  }, async (dir) => {
    await Deno.symlink(
      "../outside/Encounter.ext.ndjson",
      join(dir, "export/Condition.link.ndjson"),
    );
    await Deno.symlink("Patient.001.ndjson", join(dir, "export/same.ndjson"));
    await Deno.symlink("../outside/data.txt", join(dir, "export/Patient.002.ndjson"));
    await Deno.symlink("../outside/more", join(dir, "export/sub"));
    await Deno.symlink("../more", join(dir, "outside/more/back"));
    await Deno.symlink(".", join(dir, "export/loop"));
    await Deno.symlink("missing.ndjson", join(dir, "export/dangling.ndjson"));
    const view = await readLikeCumulus(join(dir, "export"));
    assert.deepEqual(types(view), {
      ".hidden/Observation.h.ndjson": "Observation",
      "Patient.001.ndjson": "Patient",
      "deep/a/b/c/Condition.deep.ndjson": "Condition",
      "Condition.link.ndjson": "Encounter",
      "sub/Procedure.ext.ndjson": "Procedure",
    });
    const real = await Deno.realPath(dir);
    const link = view.files.find((f) => f.path === "Condition.link.ndjson")!;
    assert.equal(link.resolvedPath, join(real, "outside/Encounter.ext.ndjson"));
    assert.deepEqual([ids(view, "Encounter"), ids(view, "Patient"), ids(view, "Condition")], [
      ["e1"],
      ["p1"],
      ["c1"],
    ]);
    assert.deepEqual([view.warnings, view.errors, view.collisions], [[], [], []]);
  });
});

Deno.test("task-type files sharing a base name collide in the flat copy; the last path wins", async () => {
  await withFolder({
    "001.a/Condition.001.ndjson.gz": [r("Condition", "c1")],
    "002.b/Condition.001.ndjson.gz": [r("Condition", "c2")],
    "Patient.001.ndjson": [r("Patient", "p1")],
    "deleted/Patient.001.ndjson": [bundle("transaction", del("Patient/p1"))],
    "error/OperationOutcome.001.ndjson": [r("OperationOutcome", "x1")],
    "001.a/error/OperationOutcome.001.ndjson": [r("OperationOutcome", "x2")],
    "log.ndjson": LOG,
  }, async (dir) => {
    const view = await readLikeCumulus(dir);
    assert.deepEqual(view.collisions, [
      {
        baseName: "Condition.001.ndjson.gz",
        paths: ["001.a/Condition.001.ndjson.gz", "002.b/Condition.001.ndjson.gz"],
      },
      {
        baseName: "Patient.001.ndjson",
        paths: ["Patient.001.ndjson", "deleted/Patient.001.ndjson"],
      },
    ]);
    assert.deepEqual(ids(view, "Condition"), ["c2"]);
    assert.deepEqual(ids(view, "Patient"), [], "the Bundles replaced the patients");
    assert.match(view.warnings.join("\n"), /^deleted\/Patient\.001\.ndjson:1: .*not a Patient/);
    assert.equal(view.deleted.size, 0, "a Bundle file named Patient is not read as deletions");
    await assert.rejects(
      assertCumulusReadable(dir),
      /001\.a\/Condition\.001\.ndjson\.gz and 002\.b\/Condition\.001\.ndjson\.gz share the name/,
    );
  });
});

Deno.test("deleted/ yields DELETE Type/id entries of transaction Bundles under the top deleted/ only", async () => {
  await withFolder({
    "deleted/Bundle.000.ndjson": [
      bundle(
        "transaction",
        del("Patient/p1"),
        del("Condition/c1"),
        del("Patient/p2", "PUT"),
        del("https://ehr.example/fhir/Patient/p3"),
        del("Patient/p4/_history/2"),
        del("Patient?identifier=x"),
      ),
      bundle("batch", del("Patient/p5")),
    ],
    "deleted/nested/Bundle.Encounter.ndjson.gz": [bundle("transaction", del("Encounter/e1"))],
    "deleted/removals.ndjson": [bundle("transaction", del("Observation/o1"))],
    "002.x/deleted/Bundle.002.ndjson": [bundle("transaction", del("Patient/p9"))],
    "Patient.001.ndjson": [r("Patient", "p1")],
    "log.ndjson": LOG,
  }, async (dir) => {
    const view = await assertCumulusReadable(dir);
    const deleted = Object.fromEntries([...view.deleted].map(([type, s]) => [type, [...s].sort()]));
    assert.deepEqual(deleted, {
      Patient: ["p1"],
      Condition: ["c1"],
      Encounter: ["e1"],
      Observation: ["o1"],
    });
  });
});

Deno.test("the last kickoff's export gives group, URL and time, in any order", async () => {
  const rows = [
    kickoff("old", "https://ehr.example/fhir/Group/old/$export"),
    complete("old", "2023-01-01T00:00:00Z"),
    complete("new", "2024-05-01T10:00:00.123456789+02:00"),
    kickoff("new", "https://ehr.example/fhir/Group/abc/$export?x=1"),
    { exportId: "new", eventId: "export_complete", eventDetail: {} },
  ];
  await withFolder({ "log.ndjson": rows }, async (dir) => {
    const view = await readLikeCumulus(dir);
    assert.deepEqual([view.group, view.exportTime, view.logError], [
      "abc",
      "2024-05-01T10:00:00.123456789+02:00",
      undefined,
    ]);
    assert.equal(view.exportUrl, "https://ehr.example/fhir/Group/abc/$export?x=1");
  });
  const groups: [string, string][] = [
    ["https://ehr.example/fhir/$export", ""],
    ["https://ehr.example/fhir/Patient/$export/", ""],
    ["https://ehr.example/fhir/Group/a%20b/", "a%20b"],
    ["https://ehr.example/fhir/Group/g1", "g1"],
  ];
  for (const [url, group] of groups) {
    await withFolder(
      { "log.x.ndjson.gz": [kickoff(1, url), complete(1, "2024-05-01")] },
      async (dir) => {
        assert.equal((await readLikeCumulus(dir)).group, group, url);
      },
    );
  }
});

Deno.test("log failures: refused logs and crashes", async () => {
  const [k, c] = LOG;
  const url = "https://ehr.example/fhir/$export";
  // [expected logError, crash?, log.ndjson rows or text, or a whole folder]
  const cases: [RegExp, boolean, Content | Record<string, Content>][] = [
    [/no log\.ndjson/, false, {}],
    [/no log\.ndjson/, false, { "log.ndjson.gz": LOG, "Log.ndjson": LOG }],
    [/several log files \(log\.a\.ndjson, log\.b\.ndjson\)/, false, {
      "log.a.ndjson": LOG,
      "log.b.ndjson": LOG,
    }],
    [/no status_complete for export "e2"/, false, [k, c, kickoff("e2", url)]],
    [/no kickoff event with an exportId/, false, [k, c, kickoff("", url)]],
    [/no eventDetail\.transactionTime/, false, [k, { ...c, eventDetail: {} }]],
    [/transactionTime null is not ISO/, true, [k, complete("e1", null)]],
    [/transactionTime "yesterday" is not ISO/, true, [k, complete("e1", "yesterday")]],
    [/"2023-02-29T00:00:00Z" is not ISO/, true, [k, complete("e1", "2023-02-29T00:00:00Z")]],
    [/with a scheme/, true, [kickoff("e1", "ehr.example/fhir/$export"), c]],
    [/a line holds \[1,2\]/, true, `${JSON.stringify(k)}\n[1, 2]\n${JSON.stringify(c)}\n`],
  ];
  for (const [message, crash, content] of cases) {
    const plain = Array.isArray(content) || typeof content === "string";
    const files = plain || content instanceof Uint8Array ? { "log.ndjson": content } : content;
    await withFolder(files, async (dir) => {
      const view = await readLikeCumulus(dir);
      assert.match(view.logError?.message ?? "(none)", message);
      assert.equal(view.logError?.crash, crash, String(message));
      assert.deepEqual([view.group, view.exportTime], [undefined, undefined], String(message));
    });
  }
  for (
    const time of [
      "2024-05-01",
      "2024-05-01T10:00:00",
      "20240501T100000Z",
      "2024-05-01 10:00:00,5-05:00",
    ]
  ) {
    const files = {
      "log.ndjson": `${JSON.stringify(LOG[0])}\n{not json\n${
        JSON.stringify(complete("e1", time))
      }\n`,
      "log.other.ndjson": "",
    };
    await withFolder(files, async (dir) => {
      const view = await readLikeCumulus(dir);
      assert.deepEqual([view.logError, view.exportTime, view.group], [undefined, time, "g1"], time);
    });
  }
});

Deno.test("later rows win: within a file, and across files in the flat folder's name order", async () => {
  const line = (row: Row) => JSON.stringify(row);
  await withFolder({
    "Patient.001.ndjson": `${line(r("Patient", "p1", { v: 1 }))}\r\n\r\n\n{bad json\n${
      line(r("Patient", "p2"))
    }\r\n${line(r("Patient", "p1", { v: 2 }))}`,
    "Patient.002.ndjson": [r("Patient", "p1", { v: 3 })],
    "001.z/Observation.002.ndjson": [r("Observation", "o1", { v: "new" })],
    "002.a/Observation.001.ndjson": [r("Observation", "o1", { v: "old" })],
  }, async (dir) => {
    const view = await readLikeCumulus(dir);
    assert.deepEqual(view.resources.get("Patient")?.get("p1"), r("Patient", "p1", { v: 3 }));
    assert.deepEqual(ids(view, "Patient"), ["p1", "p2"]);
    assert.equal(view.resources.get("Observation")?.get("o1")?.v, "new");
    assert.equal(view.files.find((f) => f.path === "Patient.001.ndjson")?.rows, 3);
    assert.deepEqual(view.warnings, ["Patient.001.ndjson:4: not JSON; the ETL skips the line"]);
  });
});

Deno.test("assertCumulusReadable names every problem and honours its options", async () => {
  await withFolder(
    { "Patient.001.ndjson": [r("Patient", "p1")], "log.ndjson": LOG },
    async (dir) => {
      assert.equal((await assertCumulusReadable(dir)).group, "g1");
    },
  );
  await withFolder({ "log.ndjson": LOG }, async (dir) => {
    await assert.rejects(assertCumulusReadable(dir), /no ETL task would find any resource/);
    await assertCumulusReadable(dir, { allowNoData: true });
  });
  await withFolder({ "Patient.001.ndjson": [r("Patient", "p1")] }, async (dir) => {
    await assert.rejects(assertCumulusReadable(dir), /log: no log\.ndjson/);
    await assertCumulusReadable(dir, { requireLog: false });
  });
  const bad: [Record<string, Content>, RegExp][] = [
    [
      { "Patient.001.ndjson.1a2b3c4d.part.ndjson": [r("Patient", "p1")] },
      /Patient\.001\.ndjson\.1a2b3c4d\.part\.ndjson looks like an in-progress file/,
    ],
    [
      { "Patient.001.ndjson": [r("Patient", "p1"), r("Condition", "c1")] },
      /data dropped: Patient\.001\.ndjson:2/,
    ],
    [
      { "Patient.001.ndjson": [r("Patient", "p1")], "Patient.002.ndjson.gz": "plain" },
      /read error: Patient\.002\.ndjson\.gz/,
    ],
  ];
  for (const [files, message] of bad) {
    await withFolder({ ...files, "log.ndjson": LOG }, async (dir) => {
      await assert.rejects(assertCumulusReadable(dir), message);
    });
  }
});
