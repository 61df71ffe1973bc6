/**
 * `hydrate` and `inline` against the fake server: every inline edge case, every reference
 * task's fields, recursion and cycles, de-duplication, resume, and export's automatic chain.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { TASK_GROUPS } from "../src/hydrate/tasks.ts";
import { FakeFhirServer, type Resource } from "./fake_server/mod.ts";
import { requestsOf } from "./helpers/bulk_e2e.ts";
import { runCli } from "./helpers/cli.ts";
import { assertCumulusReadable } from "./helpers/cumulus.ts";
import { listFiles, readResources, tempDir } from "./helpers/folder.ts";
import { exportRun, subfolders } from "./helpers/managed.ts";

async function writeNdjson(path: string, rows: unknown[]): Promise<void> {
  await Deno.writeTextFile(path, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
}

function hydrate(server: FakeFhirServer, dir: string, ...flags: string[]) {
  return runCli(["hydrate", "--fhir-url", server.baseUrl, ...flags, dir], {
    clock: new FakeClock(),
  });
}

/** A Binary of the fake server with this content type. */
function binaryOf(server: FakeFhirServer, mime: string): Resource {
  return server.resources("Binary").find((b) => b.contentType === mime)!;
}

function doc(id: string, attachments: Record<string, unknown>[]): Record<string, unknown> {
  return {
    resourceType: "DocumentReference",
    id,
    status: "current",
    subject: { reference: "Patient/pat-0001" },
    content: attachments.map((attachment) => ({ attachment })),
  };
}

Deno.test("inline: every edge case, exact fields, failures recorded, other rows untouched", async () => {
  await using server = await FakeFhirServer.start({
    patients: 3,
    auth: { mode: "bearer", token: "T0K" },
  });
  await using out = await tempDir();
  const dir = out.path;
  const text = binaryOf(server, "text/plain");
  const html = binaryOf(server, "text/html");
  const pdf = binaryOf(server, "application/pdf");
  // Faults: one attachment answers an OperationOutcome with 200, one 404, one 500 (retried to
  // the end), one the wrong mimetype.
  server.addFault({
    target: "binary",
    pathIncludes: "/Binary/oo-note",
    fault: {
      kind: "status",
      status: 200,
      body: {
        resourceType: "OperationOutcome",
        issue: [{ severity: "error", code: "processing" }],
      },
    },
  });
  // And one the same, but labelled as the note asked for (the body gives it away).
  server.addFault({
    target: "binary",
    pathIncludes: "/Binary/oo-plain",
    fault: {
      kind: "status",
      status: 200,
      contentType: "text/plain; charset=utf-8",
      body: {
        resourceType: "OperationOutcome",
        issue: [{ severity: "error", code: "processing" }],
      },
    },
  });
  server.addFault({
    target: "binary",
    pathIncludes: "/Binary/wrong-type",
    times: 1,
    fault: { kind: "status", status: 200, body: "text" },
  });
  const rows = [
    doc("plain", [{ contentType: "text/plain", url: `Binary/${text.id}` }]),
    doc("html-abs", [{
      contentType: "text/html; charset=utf-8",
      url: `${server.baseUrl}/Binary/${html.id}`,
      title: "t",
    }]),
    doc("has-data", [{ contentType: "text/plain", url: `Binary/${text.id}`, data: "aGk=" }]),
    doc("no-url", [{ contentType: "text/plain" }]),
    doc("no-type", [{ url: `Binary/${text.id}` }]),
    doc("pdf", [{ contentType: "application/pdf", url: `Binary/${pdf.id}` }]),
    doc("oo", [{ contentType: "text/plain", url: "Binary/oo-note" }]),
    doc("oo-plain", [{ contentType: "text/plain", url: "Binary/oo-plain" }]),
    doc("missing", [{ contentType: "text/plain", url: "Binary/nope" }]),
    doc("wrong", [{ contentType: "text/html", url: "Binary/wrong-type" }]),
    doc("elsewhere", [{
      contentType: "text/plain",
      url: `${server.secondOrigin}/binaries/${text.id}`,
    }]),
    { resourceType: "DocumentReference", id: "odd", content: "not an array" },
  ];
  await writeNdjson(join(dir, "DocumentReference.001.ndjson"), rows);
  const lines = (await Deno.readTextFile(join(dir, "DocumentReference.001.ndjson"))).split("\n");
  const r = await runCli([
    "inline",
    "--fhir-url",
    server.baseUrl,
    "--bearer-token",
    "T0K",
    dir,
  ], { clock: new FakeClock() });
  assert.equal(r.code, 0, r.stderr);
  const after = await readResources(join(dir, "DocumentReference.001.ndjson"));
  assert.equal(after.length, rows.length, "every row, once");
  const byId = new Map(after.map((d) => [d.id, d]));
  const att = (
    id: string,
  ) => ((byId.get(id)!.content as { attachment: Record<string, unknown> }[])[0]!.attachment);
  const textBytes = Uint8Array.from(atob(String(text.data)), (c) => c.charCodeAt(0));
  const sha1 = btoa(
    String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("SHA-1", textBytes))),
  );
  assert.deepEqual(att("plain"), {
    contentType: "text/plain; charset=utf-8",
    url: `Binary/${text.id}`,
    data: text.data,
    size: textBytes.length,
    hash: sha1,
  });
  assert.equal(att("html-abs").title, "t", "other fields are kept");
  assert.equal(att("html-abs").data, html.data);
  assert.equal(att("elsewhere").data, text.data, "an attachment on another origin");
  assert.deepEqual(server.violations, [], "no token sent to another origin");
  // Untouched rows are byte-identical.
  const fileText = await Deno.readTextFile(join(dir, "DocumentReference.001.ndjson"));
  for (
    const id of [
      "has-data",
      "no-url",
      "no-type",
      "pdf",
      "oo",
      "oo-plain",
      "missing",
      "wrong",
      "odd",
    ]
  ) {
    const original = lines.find((l) => l.includes(`"id":"${id}"`))!;
    assert.ok(fileText.includes(original), `${id} is unchanged`);
  }
  // The token went to the FHIR server's Binary reads only.
  const reads = requestsOf(server, "binary").filter((q) => q.listener === "main");
  assert.ok(reads.every((q) => q.headers["authorization"] === "Bearer T0K"));
  const accepts = requestsOf(server, "binary").map((q) => q.headers["accept"]);
  assert.ok(accepts.includes("text/plain") && accepts.includes("text/html"));
  // Failures: recorded in error/ naming the resource and the url, and counted.
  const diagnostics = (await readResources(join(dir, "error", "OperationOutcome.ndjson.gz")))
    .map((o) => String((o.issue as { diagnostics?: string }[])[0]?.diagnostics));
  const failure = (id: string) => {
    const found = diagnostics.filter((d) => d.includes(`DocumentReference/${id} attachment`));
    assert.equal(found.length, 1, `${id}: ${JSON.stringify(diagnostics)}`);
    return found[0]!;
  };
  assert.match(
    failure("oo"),
    /Binary\/oo-note: Binary\/oo-note answered application\/fhir\+json, not the text\/plain asked for$/,
  );
  assert.match(
    failure("oo-plain"),
    /Binary\/oo-plain: Binary\/oo-plain answered an OperationOutcome instead of the attachment$/,
  );
  assert.match(failure("missing"), /Binary\/nope: Binary\/nope is not known \(HTTP 404/);
  assert.match(
    failure("wrong"),
    /Binary\/wrong-type: Binary\/wrong-type answered text\/plain, not the text\/html asked for$/,
  );
  assert.match(r.stdout, /doc-inline\s+12\s+/);
  assert.ok(!(await listFiles(dir)).some((f) => f.includes(".part") || f.startsWith(".hydrate")));

  // A rerun skips what is inlined and tries the failed ones again.
  const before = requestsOf(server, "binary").length;
  assert.equal(
    (await runCli(["inline", "--fhir-url", server.baseUrl, "--bearer-token", "T0K", dir], {
      clock: new FakeClock(),
    })).code,
    0,
  );
  const again = requestsOf(server, "binary").slice(before).map((q) => q.path);
  assert.deepEqual(again.sort(), [
    "/fhir/Binary/nope",
    "/fhir/Binary/oo-note",
    "/fhir/Binary/oo-plain",
    "/fhir/Binary/wrong-type",
  ]);
});

Deno.test("inline: custom --mimetypes, DiagnosticReport presentedForm, gzip files, size limit", async () => {
  await using server = await FakeFhirServer.start({ patients: 2 });
  await using out = await tempDir();
  const pdf = binaryOf(server, "application/pdf");
  const text = binaryOf(server, "text/plain");
  const report = {
    resourceType: "DiagnosticReport",
    id: "r1",
    status: "final",
    presentedForm: [
      { contentType: "application/pdf", url: `Binary/${pdf.id}` },
      { contentType: "text/plain", url: `Binary/${text.id}` },
    ],
  };
  const path = join(out.path, "DiagnosticReport.ndjson.gz");
  const gz = new Blob([JSON.stringify(report) + "\n"]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  await Deno.writeFile(path, gz);
  const r = await runCli([
    "hydrate",
    "--fhir-url",
    server.baseUrl,
    "--tasks",
    "inline",
    "--mimetypes",
    "application/PDF",
    out.path,
  ], { clock: new FakeClock() });
  assert.equal(r.code, 0, r.stderr);
  const [row] = await readResources(path);
  const forms = row!.presentedForm as Record<string, unknown>[];
  assert.equal(forms[0]!.data, pdf.data, "the PDF is inlined: it was asked for");
  assert.equal(forms[1]!.data, undefined, "text/plain is not in the custom list");
  assert.match(String(forms[0]!.contentType), /^application\/pdf; charset=/);

  const small = await runCli([
    "inline",
    "--fhir-url",
    server.baseUrl,
    "--max-attachment-size",
    "10",
    join(out.path),
  ], { clock: new FakeClock() });
  assert.equal(small.code, 0, small.stderr);
  const outcomes = JSON.stringify(
    await readResources(join(out.path, "error", "OperationOutcome.ndjson.gz")),
  );
  assert.match(outcomes, /over --max-attachment-size/);
});

Deno.test("every reference task follows exactly its fields, only relative refs of its type", async () => {
  await using server = await FakeFhirServer.start({ patients: 1 });
  await using out = await tempDir();
  const dir = out.path;
  const shared = {
    Practitioner: server.resources("Practitioner").map((r) => r.id),
    PractitionerRole: server.resources("PractitionerRole").map((r) => r.id),
    Location: server.resources("Location").map((r) => r.id),
    Organization: server.resources("Organization").map((r) => r.id),
    Medication: server.resources("Medication").map((r) => r.id),
    EpisodeOfCare: server.resources("EpisodeOfCare").map((r) => r.id),
    Observation: server.resources("Observation").map((r) => r.id),
  } as Record<string, string[]>;
  // One input resource per type, each field pointing at its own target; plus decoys that must
  // not be followed (absolute, contained, another type).
  const expected = new Map<string, Set<string>>();
  const inputs = new Map<string, Record<string, unknown>>();
  let n = 0;
  for (const [group, tasks] of TASK_GROUPS) {
    if (group === "inline") continue;
    for (const task of tasks) {
      if (task.kind !== "reference") continue;
      const resource = inputs.get(task.input) ??
        { resourceType: task.input, id: `in-${task.input.toLowerCase()}` };
      inputs.set(task.input, resource);
      for (const field of task.fields) {
        for (const target of task.outputs) {
          const pool = shared[target]!;
          const id = pool[n++ % pool.length]!;
          const parts = field.split(".");
          let at: Record<string, unknown> = resource;
          for (const part of parts.slice(0, -1)) {
            at = (at[part] as Record<string, unknown>) ??
              (at[part] = {}) as Record<string, unknown>;
          }
          const last = parts.at(-1)!;
          const refs =
            (Array.isArray(at[last]) ? at[last] : at[last] ? [at[last]] : []) as unknown[];
          refs.push({ reference: `${target}/${id}` });
          at[last] = refs.length === 1 ? refs[0] : refs;
          if (!expected.has(target)) expected.set(target, new Set());
          expected.get(target)!.add(id);
        }
      }
    }
  }
  for (const [type, resource] of inputs) {
    const decoys = [
      { reference: `${server.baseUrl}/Practitioner/prac-999` },
      { reference: "#contained" },
      { reference: "Device/dev-1" },
    ];
    resource.note = decoys;
    await writeNdjson(join(dir, `${type}.001.ndjson`), [resource]);
  }
  const r = await hydrate(
    server,
    dir,
    "--tasks",
    "medication,practitioner,location,organization,episodeofcare,observation",
  );
  assert.equal(r.code, 0, r.stderr);
  for (const [type, ids] of expected) {
    const got = new Set<string>();
    for (const f of await listFiles(dir)) {
      if (f.startsWith(`${type}.`) && !f.startsWith(`${type}.001.`)) {
        for (const x of await readResources(join(dir, f))) got.add(String(x.id));
      }
    }
    for (const id of ids) assert.ok(got.has(id), `${type}/${id} was downloaded`);
  }
  const reads = requestsOf(server, "read").map((q) => q.path);
  assert.ok(
    !reads.some((p) => p.includes("prac-999") || p.includes("Device")),
    "decoys not followed",
  );
  const files = await listFiles(dir);
  for (
    const name of [
      "Medication.referenced.ndjson.gz",
      "Practitioner.referenced.ndjson.gz",
      "Location.referenced.ndjson.gz",
      "Organization.referenced.ndjson.gz",
      "EpisodeOfCare.referenced.ndjson.gz",
      "Observation.results.ndjson.gz",
      "PractitionerRole.searched.ndjson.gz",
    ]
  ) {
    assert.ok(files.includes(name), `${name} in ${files.join()}`);
  }
  await assertCumulusReadable(dir, { requireLog: false });
});

Deno.test("recursion and cycles: hasMember and partOf are followed until nothing new, cycles end", async () => {
  await using server = await FakeFhirServer.start({ patients: 1 });
  const obs = (id: string, members: string[]) => ({
    resourceType: "Observation",
    id,
    status: "final",
    code: { text: id },
    subject: { reference: "Patient/pat-0001" },
    hasMember: members.map((m) => ({ reference: `Observation/${m}` })),
  });
  // a -> b -> c -> a (a cycle), c -> d.
  server.mutate({
    add: [
      obs("ob-b", ["ob-c"]),
      obs("ob-c", ["ob-a", "ob-d"]),
      obs("ob-a", ["ob-b"]),
      obs("ob-d", []),
    ],
  });
  await using out = await tempDir();
  await writeNdjson(join(out.path, "Observation.001.ndjson"), [obs("ob-a", ["ob-b"])]);
  const r = await hydrate(server, out.path, "--tasks", "observation");
  assert.equal(r.code, 0, r.stderr);
  const members = (await readResources(join(out.path, "Observation.members.ndjson.gz"))).map((o) =>
    o.id
  ).sort();
  assert.deepEqual(members, ["ob-b", "ob-c", "ob-d"], "ob-a is present already: never fetched");
  const reads = requestsOf(server, "read").map((q) => q.path.split("/").pop()).sort();
  assert.deepEqual(reads, ["ob-b", "ob-c", "ob-d"], "each fetched once");

  // partOf chains: Location loc-002 -> loc-001.
  await writeNdjson(join(out.path, "Encounter.001.ndjson"), [{
    resourceType: "Encounter",
    id: "e1",
    location: [{ location: { reference: "Location/loc-002" } }],
  }]);
  assert.equal((await hydrate(server, out.path, "--tasks", "location")).code, 0);
  const locs = (await readResources(join(out.path, "Location.referenced.ndjson.gz"))).map((l) =>
    l.id
  ).sort();
  assert.deepEqual(locs, ["loc-001", "loc-002"]);
});

Deno.test("dedupe and resume: ids in any file of the type are never fetched again", async () => {
  await using server = await FakeFhirServer.start({ patients: 4 });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  assert.equal(
    (await runCli([
      "bulk",
      "--fhir-url",
      server.baseUrl,
      "--type",
      "Patient,Condition,MedicationRequest",
      dir,
    ], { clock: new FakeClock() })).code,
    0,
  );
  const first = await hydrate(server, dir, "--tasks", "medication,practitioner");
  assert.equal(first.code, 0, first.stderr);
  const reads = requestsOf(server, "read").length;
  assert.ok(reads > 0);
  const again = await hydrate(server, dir, "--tasks", "medication,practitioner");
  assert.equal(again.code, 0, again.stderr);
  assert.equal(requestsOf(server, "read").length, reads, "nothing fetched twice");
  for (const f of await listFiles(dir)) {
    if (!/\.(referenced|searched)\.ndjson\.gz$/.test(f)) continue;
    const ids = (await readResources(join(dir, f))).map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, `${f} has no duplicates`);
  }
  // A failed reference is retried by the next run; a present one is not.
  server.addFault({
    target: "read",
    pathIncludes: "/Medication/",
    times: Infinity,
    fault: { kind: "status", status: 404 },
  });
  const meds = join(dir, "Medication.referenced.ndjson.gz");
  await Deno.remove(meds);
  const failing = await hydrate(server, dir, "--tasks", "medication");
  assert.equal(failing.code, 0, "a 404 is recorded, not fatal");
  assert.match(failing.stdout, /could not be fetched; see error\//);
  server.clearFaults();
  const before = requestsOf(server, "read").length;
  assert.equal((await hydrate(server, dir, "--tasks", "medication")).code, 0);
  const retried = requestsOf(server, "read").slice(before);
  assert.ok(retried.length > 0 && retried.every((q) => q.path.includes("/Medication/")));
  assert.ok((await readResources(meds)).length > 0);
});

Deno.test("export hydrates its new subfolder by default, chaining new types until nothing new appears", async () => {
  await using server = await FakeFhirServer.start({ patients: 3, pollsUntilReady: 0 });
  await using out = await tempDir();
  const dir = join(out.path, "m");
  const r = await exportRun(
    server,
    dir,
    new FakeClock(),
    "--type",
    "Patient,Encounter,DocumentReference",
    "--nickname",
    "one",
  );
  assert.equal(r.code, 0, r.stderr);
  const sub = join(dir, (await subfolders(dir))[0]!);
  const files = await listFiles(sub);
  // Encounter -> Practitioner -> PractitionerRole -> Location -> Organization.
  for (
    const f of [
      "Practitioner.referenced.ndjson.gz",
      "PractitionerRole.searched.ndjson.gz",
      "Location.referenced.ndjson.gz",
      "Organization.referenced.ndjson.gz",
      "EpisodeOfCare.referenced.ndjson.gz",
    ]
  ) {
    assert.ok(files.includes(f), `${f} in ${files.join(", ")}`);
  }
  const docs = await readResources(
    join(sub, files.find((f) => f.startsWith("DocumentReference."))!),
  );
  const texts = docs.flatMap((d) =>
    (d.content as { attachment: Record<string, unknown> }[]).map((c) => c.attachment)
  )
    .filter((a) => String(a.contentType).startsWith("text/"));
  assert.ok(texts.length > 0 && texts.every((a) => typeof a.data === "string"), "notes inlined");
  const links = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.ok(links.some((l) => l.startsWith("Practitioner.")), "hydrated types are linked");
  await assertCumulusReadable(sub);
  const none = await exportRun(
    server,
    join(out.path, "n"),
    new FakeClock(),
    "--type",
    "Patient,Encounter",
    "--hydration-tasks",
    "none",
  );
  assert.equal(none.code, 0);
  const sub2 = join(out.path, "n", (await subfolders(join(out.path, "n")))[0]!);
  assert.ok(!(await listFiles(sub2)).some((f) => f.includes(".referenced.")));
});
