/**
 * `crawl` end to end against the fake server: every cohort source, batched MRN resolution and
 * its fallback, the cohort report, paging, OR-ed filters, since modes, Epic's quirks,
 * OperationOutcomes in Bundles, failed searches retried by the next run, and the log.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer, type FakeServerOptions } from "./fake_server/mod.ts";
import { expectedIds, requestsOf, SteppingClock } from "./helpers/bulk_e2e.ts";
import { runCli } from "./helpers/cli.ts";
import { assertCumulusReadable } from "./helpers/cumulus.ts";
import { listFiles, logRows, metadata, readResources, tempDir } from "./helpers/folder.ts";

const SYSTEM = "urn:oid:1.2.3.4";
const TYPES = ["Patient", "Condition", "Observation", "Encounter"];

function mrn(n: number): string {
  return `MRN${String(n).padStart(4, "0")}`;
}
function pid(n: number): string {
  return `pat-${String(n).padStart(4, "0")}`;
}

/** Runs `crawl` into `dir` with TYPES and `flags`. */
function crawl(server: FakeFhirServer, dir: string, clock: FakeClock, ...flags: string[]) {
  return runCli(
    ["crawl", "--fhir-url", server.baseUrl, "--type", TYPES.join(","), ...flags, dir],
    { clock },
  );
}

/** Ids per type in the crawl's `<Type>.ndjson.gz` files (sorted), checking each row's type. */
async function crawledIds(dir: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const name of await listFiles(dir)) {
    const m = /^([A-Za-z]+)\.ndjson\.gz$/.exec(name);
    if (!m) continue;
    const ids: string[] = [];
    for (const r of await readResources(join(dir, name))) {
      assert.equal(r.resourceType, m[1], `${name} holds a ${r.resourceType}`);
      ids.push(String(r.id));
    }
    assert.equal(new Set(ids).size, ids.length, `${name} has duplicate ids`);
    out.set(m[1]!, ids.sort());
  }
  return out;
}

async function withServer<T>(options: FakeServerOptions, body: (s: FakeFhirServer) => Promise<T>) {
  await using server = await FakeFhirServer.start({ patients: 8, ...options });
  return await body(server);
}

Deno.test("every cohort source gives the same per-patient data: text file, CSV MRN, CSV ID, ID list, Group", async () => {
  await withServer({}, async (server) => {
    await using out = await tempDir();
    const clock = new FakeClock();
    const patients = [1, 2, 3, 5].map(pid);
    const want = expectedIds(server, TYPES, { patients });
    const sources: [string, string[]][] = [];
    const text = join(out.path, "MRN-123");
    await Deno.writeTextFile(text, `${mrn(1)}\n\n${mrn(2)}\n${mrn(3)}\n${mrn(2)}\n  ${mrn(5)}  \n`);
    sources.push(["text MRN file", ["--id-system", SYSTEM, "--id-file", text]]);
    const csvMrn = join(out.path, "cohort.csv");
    await Deno.writeTextFile(
      csvMrn,
      `Name,MRN\na,${mrn(1)}\nb,${mrn(2)}\nc,${mrn(3)}\nd,${mrn(5)}\n`,
    );
    sources.push(["CSV with MRN", ["--id-system", SYSTEM, "--id-file", csvMrn]]);
    const csvId = join(out.path, "ids.CSV");
    await Deno.writeTextFile(csvId, `id,other\n${patients.join(",x\n")},x\n`);
    sources.push(["CSV with ID", ["--id-file", csvId]]);
    sources.push(["ID list", ["--id-list", patients.join(",")]]);
    for (const [what, flags] of sources) {
      const dir = join(out.path, what.replaceAll(" ", "-"));
      const r = await crawl(server, dir, clock, ...flags);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.deepEqual(await crawledIds(dir), want, what);
      await assertCumulusReadable(dir);
      const meta = await metadata(dir);
      assert.equal(meta.mode, "crawl");
      assert.equal((meta.crawl as { cohort: { patients: number } }).cohort.patients, 4, what);
    }
    // Patient ids are read one by one; MRNs in batches.
    const reads = requestsOf(server, "read").filter((r) => r.path.includes("/Patient/"));
    assert.equal(reads.length, 8, "two runs of 4 Patient reads");

    // A Group: its Patients come from a bulk export of Patient (bulk names), then searches.
    const group = join(out.path, "group");
    const g = await crawl(server, group, clock, "--group", "even");
    assert.equal(g.code, 0, g.stderr);
    const even = server.groupMembers("even");
    const fromGroup = await crawledIds(group);
    assert.deepEqual(
      fromGroup.get("Condition"),
      expectedIds(server, ["Condition"], { patients: even }).get("Condition"),
    );
    assert.ok((await listFiles(group)).includes("Patient.001.ndjson.gz"));
    assert.match(requestsOf(server, "kickoff").at(-1)!.path, /\/Group\/even\/\$export$/);
    assert.match(requestsOf(server, "kickoff").at(-1)!.query, /_type=Patient/);
  });
});

Deno.test("MRNs resolve in batches of about 50; unmatched and multiple matches are reported", async () => {
  await withServer({ patients: 120, duplicateMrns: [mrn(7)] }, async (server) => {
    await using out = await tempDir();
    const file = join(out.path, "MRN-007");
    const ids = Array.from({ length: 120 }, (_, i) => mrn(i + 1));
    await Deno.writeTextFile(file, [...ids, "NOPE1", "NOPE2"].join("\n"));
    const dir = join(out.path, "x");
    const r = await crawl(
      server,
      dir,
      new FakeClock(),
      "--type",
      "Patient",
      "--id-system",
      SYSTEM,
      "--id-file",
      file,
    );
    assert.equal(r.code, 0, r.stderr);
    const searches = requestsOf(server, "search").filter((q) => q.path.endsWith("/Patient"));
    const batched = searches.filter((q) => decodeURIComponent(q.query).split(",").length > 40);
    assert.equal(batched.length >= 3, true, `${searches.length} searches`);
    assert.ok(searches.length < 20, `${searches.length} Patient searches for 122 MRNs`);
    assert.equal(await Deno.readTextFile(join(dir, "unmatched-ids.txt")), "NOPE1\nNOPE2\n");
    const cohort = (await metadata(dir)).crawl as Record<string, unknown>;
    assert.equal(cohort.cohort && (cohort.cohort as Record<string, unknown>).unmatched, 2);
    assert.equal((cohort.cohort as Record<string, unknown>).multiple, 1);
    assert.match(r.stderr, new RegExp(`ID ${mrn(7)} matched 2 patients`));
    assert.match(r.stderr, /2 ID\(s\) matched no patient/);
    assert.equal((await crawledIds(dir)).get("Patient")!.length, 121);
  });
});

Deno.test("a server that ignores the identifier OR: resolution falls back to one by one", async () => {
  await withServer({ patients: 120, identifierOr: false }, async (server) => {
    await using out = await tempDir();
    const file = join(out.path, "m.txt");
    await Deno.writeTextFile(file, Array.from({ length: 120 }, (_, i) => mrn(i + 1)).join("\n"));
    const dir = join(out.path, "x");
    const r = await crawl(
      server,
      dir,
      new FakeClock(),
      "--type",
      "Patient",
      "--id-system",
      SYSTEM,
      "--id-file",
      file,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await crawledIds(dir)).get("Patient")!.length, 120, "nobody lost");
    assert.match(r.stderr, /one by one: the server does not OR identifiers/);
    const searches = requestsOf(server, "search").filter((q) => q.path.endsWith("/Patient"));
    const batched = searches.filter((q) => decodeURIComponent(q.query).includes(","));
    assert.ok(batched.length <= 3, `gave up batching after the first batches (${batched.length})`);
    assert.ok(searches.length >= 120);
  });
});

Deno.test("paging follows next links (absolute or relative) to the end; OR-ed filters are de-duplicated", async () => {
  for (const relativeNextLinks of [false, true]) {
    await withServer(
      { heavyPatients: { count: 2, observations: 250 }, relativeNextLinks },
      async (server) => {
        await using out = await tempDir();
        const dir = join(out.path, "x");
        const r = await crawl(
          server,
          dir,
          new FakeClock(),
          "--id-list",
          `${pid(1)},${pid(2)},${pid(3)}`,
          "--type-filter",
          "Observation?category=laboratory",
          "--type-filter",
          "Observation?category=laboratory,vital-signs",
        );
        assert.equal(r.code, 0, r.stderr);
        const obs = (await crawledIds(dir)).get("Observation")!;
        const want = server.resources("Observation").filter((o) =>
          [pid(1), pid(2), pid(3)].some((p) =>
            (o.subject as { reference: string }).reference === `Patient/${p}`
          ) &&
          (o.category as { coding: { code: string }[] }[]).some((c) =>
            c.coding.some((x) => ["laboratory", "vital-signs"].includes(x.code))
          )
        ).map((o) => String(o.id)).sort();
        assert.deepEqual(obs, want, `relative links: ${relativeNextLinks}`);
        const pages = requestsOf(server, "search").filter((q) =>
          q.path.endsWith("/Observation") && q.query.includes(`patient=${pid(1)}`)
        );
        assert.ok(
          pages.length >= 2 * 10,
          `a heavy patient has 10+ pages per filter (${pages.length})`,
        );
      },
    );
  }
});

Deno.test("since: updated mode sends _lastUpdated=gt on every type; created mode only advertised date params", async () => {
  await withServer({}, async (server) => {
    await using out = await tempDir();
    const clock = new FakeClock();
    const since = "2024-01-01T00:00:00+00:00";
    const a = join(out.path, "updated");
    const r = await crawl(
      server,
      a,
      clock,
      "--id-list",
      pid(1),
      "--since",
      since,
      "--since-mode",
      "updated",
    );
    assert.equal(r.code, 0, r.stderr);
    const types = requestsOf(server, "search").filter((q) =>
      q.query.startsWith(`patient=${pid(1)}`)
    );
    assert.equal(types.length >= 3, true);
    for (const q of types) {
      assert.match(q.query, /&_lastUpdated=gt2024-01-01T00%3A00%3A00%2B00%3A00/);
    }
    const meta = await metadata(a);
    assert.deepEqual(meta.sinceResources, ["Condition", "Encounter", "Observation"]);
  });
  await withServer({ lastUpdatedSearchParam: false }, async (server) => {
    await using out = await tempDir();
    const b = join(out.path, "created");
    const r = await crawl(server, b, new FakeClock(), "--id-list", pid(2), "--since", "2024-01-01");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /using 'created'/);
    const q = (type: string) =>
      requestsOf(server, "search").find((x) =>
        x.path.endsWith(`/${type}`) && x.query.includes(pid(2))
      )!.query;
    assert.match(q("Condition"), /&recorded-date=gt2024-01-01$/);
    assert.match(q("Observation"), /&issued=gt2024-01-01$/);
    assert.doesNotMatch(q("Encounter"), /gt2024/, "Encounter has no created date: full history");
    const meta = await metadata(b);
    assert.deepEqual(meta.sinceResources, ["Condition", "Observation"]);
  });
});

Deno.test("Epic: EpisodeOfCare is skipped with a message, Epic-Client-ID is sent, fewer default categories", async () => {
  await withServer({ software: { name: "Epic" } }, async (server) => {
    await using out = await tempDir();
    const dir = join(out.path, "x");
    const r = await runCli([
      "crawl",
      "--fhir-url",
      server.baseUrl,
      "--type",
      "Patient,Observation,EpisodeOfCare",
      "--id-list",
      pid(1),
      "--bearer-token",
      "t",
      dir,
    ], { clock: new FakeClock() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /Skipping EpisodeOfCare, Epic does not support searching without a type/,
    );
    assert.equal(
      requestsOf(server, "search").filter((q) => q.path.endsWith("/EpisodeOfCare")).length,
      0,
    );
    assert.ok("EpisodeOfCare" in ((await metadata(dir)).done as object));
    const obs = requestsOf(server, "search").find((q) => q.path.endsWith("/Observation"))!;
    assert.match(
      decodeURIComponent(obs.query),
      /category=social-history,vital-signs,imaging,laboratory,survey,exam(&|$)/,
    );
  });
});

Deno.test("OperationOutcomes inside search Bundles go to error/, never into data files", async () => {
  await withServer({ searchOutcomes: "warning" }, async (server) => {
    await using out = await tempDir();
    const dir = join(out.path, "x");
    const r = await crawl(server, dir, new FakeClock(), "--id-list", `${pid(1)},${pid(2)}`);
    assert.equal(r.code, 0, r.stderr);
    await crawledIds(dir); // every data row is of its file's type
    const outcomes = await readResources(join(dir, "error", "OperationOutcome.ndjson.gz"));
    assert.ok(outcomes.length >= 6, `${outcomes.length}`);
    assert.ok(outcomes.every((o) => o.resourceType === "OperationOutcome"));
    await assertCumulusReadable(dir);
  });
});

Deno.test("a search that fails after retries is reported per type, not marked done, and retried by the next run", async () => {
  const clock = new FakeClock();
  await withServer({ now: () => clock.now() }, async (server) => {
    server.addFault({
      target: "search",
      pathIncludes: `Condition?patient=${pid(2)}`,
      times: 6,
      fault: { kind: "status", status: 500 },
    });
    await using out = await tempDir();
    const dir = join(out.path, "x");
    const ids = `${pid(1)},${pid(2)},${pid(3)}`;
    const r = await crawl(server, dir, clock, "--id-list", ids);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /error: 1 search\(es\) failed after retries \(Condition 1\); the rest is saved\. Rerun/,
    );
    const meta = await metadata(dir);
    assert.equal("Condition" in (meta.done as object), false, "never marked done");
    assert.ok("Observation" in (meta.done as object));
    assert.deepEqual((meta.crawl as { failed: unknown }).failed, { Condition: 1 });
    const before = server.requests.length;
    const again = await crawl(server, dir, clock, "--id-list", ids);
    assert.equal(again.code, 0, again.stderr);
    const later = server.requests.slice(before).filter((q) => q.kind === "search");
    assert.deepEqual(
      later.map((q) => `${q.path.split("/").pop()}?${q.query}`),
      [`Condition?patient=${pid(2)}`],
      "only the failed search is sent again",
    );
    assert.deepEqual(
      await crawledIds(dir),
      expectedIds(server, TYPES, { patients: [pid(1), pid(2), pid(3)] }),
    );
    const errors = await readResources(join(dir, "error", "OperationOutcome.ndjson.gz"));
    assert.match(JSON.stringify(errors), /the search .*Condition\?patient=pat-0002 failed/);
  });
});

Deno.test("the log: one Group URL named by --group-nickname, --group, the ID file or the folder; transactionTime is the earliest done", async () => {
  await withServer({}, async (server) => {
    await using out = await tempDir();
    const clock = new FakeClock();
    const file = join(out.path, "MRN-042.csv");
    await Deno.writeTextFile(file, `mrn\n${mrn(1)}\n`);
    const cases: [string[], string, string][] = [
      [["--id-list", pid(1), "--group-nickname", "nick"], "nick", "a"],
      [["--group", "odd"], "odd", "b"],
      [["--id-system", SYSTEM, "--id-file", file], "MRN-042", "c"],
      [["--id-list", pid(1)], "the-folder", "the-folder"],
    ];
    for (const [flags, name, folder] of cases) {
      const dir = join(out.path, folder);
      const r = await crawl(server, dir, clock, ...flags);
      assert.equal(r.code, 0, r.stderr);
      const view = await assertCumulusReadable(dir);
      assert.equal(view.group, name);
      const rows = await logRows(dir);
      const kickoffs = rows.filter((x) => x.eventId === "kickoff");
      const last = kickoffs.at(-1)!;
      assert.equal(last.eventDetail.exportUrl, `${server.baseUrl}/Group/${name}/$export`);
      const done = Object.values((await metadata(dir)).done as Record<string, string>);
      const earliest = done.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
      const complete = rows.find((x) =>
        x.eventId === "status_complete" && x.exportId === last.exportId
      )!;
      assert.equal(complete.eventDetail.transactionTime, earliest);
      // Rerunning a finished crawl adds nothing to the log.
      const before = rows.length;
      assert.equal((await crawl(server, dir, clock, ...flags)).code, 0);
      assert.equal((await logRows(dir)).length, before);
    }
  });
});

Deno.test("Epic with SMART: every search carries Epic-Client-ID and the token", async () => {
  const keys = new URL("../testdata/keys/", import.meta.url);
  const jwks = JSON.parse(await Deno.readTextFile(new URL("rs384.public.jwks.json", keys)));
  await withServer({
    software: { name: "Epic" },
    auth: { mode: "smart", clients: [{ clientId: "epic-client", jwks }] },
  }, async (server) => {
    await using out = await tempDir();
    const r = await crawl(
      server,
      join(out.path, "x"),
      new FakeClock(),
      "--id-list",
      `${pid(1)},${pid(2)}`,
      "--smart-client-id",
      "epic-client",
      "--smart-key",
      fileURLToPath(new URL("rs384.private.jwks.json", keys)),
    );
    assert.equal(r.code, 0, r.stderr);
    const searches = requestsOf(server, "search", "read");
    assert.ok(searches.length > 4);
    for (const q of searches) {
      assert.equal(q.headers["epic-client-id"], "epic-client", `${q.path}?${q.query}`);
      assert.match(q.headers["authorization"] ?? "", /^Bearer /);
    }
  });
});

Deno.test("a 429 on one search holds back the whole crawl, which then recovers", async () => {
  // Each wait really takes 150 ms and fake time moves only when it ends: without the shared
  // throttle, other workers would send searches during the pause, at a time before its end.
  const clock = new SteppingClock(150);
  await withServer({ now: () => clock.now() }, async (server) => {
    server.addFault({
      target: "search",
      skip: 3,
      fault: { kind: "status", status: 429, retryAfter: "9" },
    });
    await using out = await tempDir();
    const dir = join(out.path, "x");
    const ids = Array.from({ length: 8 }, (_, i) => pid(i + 1)).join(",");
    const r = await crawl(server, dir, clock, "--id-list", ids);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      await crawledIds(dir),
      expectedIds(server, TYPES, { patients: ids.split(",") }),
    );
    const throttled = server.requests.find((q) => q.status === 429)!;
    const later = server.requests.filter((q) => q.seq > throttled.seq);
    const during = later.filter((q) => q.time < throttled.time + 9000);
    // Only searches already on the wire (at most 4 others) may arrive during the pause.
    assert.ok(during.length <= 4, `${during.length} searches during the pause`);
    assert.ok(later.filter((q) => q.time >= throttled.time + 9000).length > 10, "it recovered");
  });
});
