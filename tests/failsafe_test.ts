/**
 * A failed first run leaves nothing that blocks the corrected command; errors are one line,
 * cause first, with an exit code that tells a job array what to do.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { HookClock } from "./helpers/bulk_e2e.ts";
import { runCli } from "./helpers/cli.ts";
import { listFiles, tempDir } from "./helpers/folder.ts";
import { assertSubfoldersReadable, exportRun, subfolders } from "./helpers/managed.ts";

const TYPES = ["--type", "Patient,Condition"];

async function existsPath(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** The `error:` lines of a run's stderr. */
function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("error:"));
}

Deno.test("a typo'd Group writes nothing; the corrected command then succeeds in the same folder", async () => {
  await using server = await FakeFhirServer.start({ patients: 4, pollsUntilReady: 0 });
  await using out = await tempDir();
  const dir = join(out.path, "even");
  const clock = new FakeClock();
  const typo = await exportRun(
    server,
    dir,
    clock,
    ...TYPES,
    "--group",
    "evn",
    "--nickname",
    "initial",
  );
  assert.equal(typo.code, 5, `an unknown Group is not fixed by a rerun\n${typo.stderr}`);
  const [line] = errorLines(typo.stderr);
  // Cause first, then the URL, short.
  assert.match(
    line!,
    /^error: Group\/evn is not known \(HTTP 404 Not Found from GET http:\/\/127\.0\.0\.1:\d+\/fhir\/Group\/evn\/\$export\?/,
  );
  assert.ok(line!.length < 260, `one short line: ${line}`);
  assert.equal(await existsPath(dir), false, "the folder was never created");

  const fixed = await exportRun(
    server,
    dir,
    clock,
    ...TYPES,
    "--group",
    "even",
    "--nickname",
    "initial",
  );
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.deepEqual(await subfolders(dir), ["001.initial"]);
  await assertSubfoldersReadable(dir);
  assert.equal(await existsPath(join(dir, ".lock")), false, "no .lock left by a finished run");
  assert.equal(await existsPath(join(dir, "001.initial", ".lock")), false);

  // A different Group for the same folder is refused, with advice.
  const other = await exportRun(server, dir, clock, ...TYPES, "--group", "odd");
  assert.equal(other.code, 2);
  assert.match(
    other.stderr,
    /is for a different Group\.\nExpected odd, but found even\.\n.*give another output folder for Group odd, or use --group even/,
  );
});

Deno.test("a refused kick-off of a new subfolder leaves an existing managed folder exactly as it was", async () => {
  await using server = await FakeFhirServer.start({ patients: 3, pollsUntilReady: 0 });
  await using out = await tempDir();
  const dir = join(out.path, "m");
  const clock = new FakeClock();
  assert.equal((await exportRun(server, dir, clock, ...TYPES, "--nickname", "one")).code, 0);
  const before = await listFiles(dir);
  // A misspelt filter parameter: the server answers 400.
  const bad = await exportRun(
    server,
    dir,
    clock,
    ...TYPES,
    "--type-filter",
    "Condition?clinical-statuz=active",
    "--nickname",
    "two",
  );
  assert.equal(bad.code, 5, bad.stderr);
  assert.match(
    errorLines(bad.stderr)[0]!,
    /^error: .*clinical-statuz.* \(HTTP 400 Bad Request from GET /,
  );
  assert.deepEqual(await listFiles(dir), before, "no 002.two, no log, no lock");
});

Deno.test("each permanent refusal exits 5; a server that is down exits 1 (rerun to resume)", async () => {
  await using server = await FakeFhirServer.start({ patients: 2 });
  await using out = await tempDir();
  const clock = new FakeClock();
  let n = 0;
  const run = (...flags: string[]) =>
    runCli(["bulk", "--fhir-url", server.baseUrl, ...TYPES, ...flags, join(out.path, `x${n++}`)], {
      clock,
    });
  server.addFault({ target: "kickoff", fault: { kind: "status", status: 403 } });
  const forbidden = await run();
  assert.equal(forbidden.code, 5, forbidden.stderr);
  assert.match(
    errorLines(forbidden.stderr)[0]!,
    /^error: Injected fault: HTTP 403 \(HTTP 403 Forbidden from GET /,
  );
  server.addFault({ target: "kickoff", fault: { kind: "status", status: 400 } });
  assert.equal((await run()).code, 5);
  assert.equal((await run("--group", "nope")).code, 5, "unknown Group");
  server.addFault({ target: "kickoff", times: Infinity, fault: { kind: "status", status: 503 } });
  const down = await run();
  assert.equal(down.code, 1, down.stderr);
  assert.match(down.stderr, /gave up after \d+ tries/);
  server.clearFaults();
  // Nothing of these runs exists on disk.
  assert.deepEqual(await listFiles(out.path), []);
  // Retry lines: one each, at most 160 characters, the URL named once.
  const retries = down.stderr.split("\n").filter((l) => / Retry \d+ in /.test(l));
  assert.ok(retries.length >= 3, down.stderr);
  for (const line of retries) {
    const text = line.replace(/^\[[^\]]+\] /, "");
    assert.ok(text.length <= 160, `${text.length}: ${text}`);
    assert.equal(text.match(/http:\/\//g)?.length, 1, text);
  }
});

Deno.test("not a FHIR server: an HTML /metadata or a 404 gets one line before anything is written", async () => {
  await using server = await FakeFhirServer.start({ patients: 1 });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const clock = new FakeClock();
  const wrongBase = await runCli(["export", "--fhir-url", `${server.origin}/fhr`, dir], { clock });
  assert.equal(wrongBase.code, 2, wrongBase.stderr);
  assert.deepEqual(errorLines(wrongBase.stderr), [
    `error: ${server.origin}/fhr/metadata answered HTTP 404, not a FHIR CapabilityStatement: check --fhir-url`,
  ]);
  assert.equal(wrongBase.stderr.trim().split("\n").filter((l) => !l.startsWith("[")).length, 1);
  assert.equal(await existsPath(dir), false);
  assert.equal(server.requests.filter((r) => r.kind === "kickoff").length, 0);
});

Deno.test("output folder problems are usage errors naming the path: a file, under a file, not writable", async () => {
  await using server = await FakeFhirServer.start({ patients: 1 });
  await using out = await tempDir();
  const clock = new FakeClock();
  const file = join(out.path, "a-file");
  await Deno.writeTextFile(file, "x");
  const cases: [string, RegExp][] = [
    [
      file,
      /^error: The output folder .*a-file is a file, not a folder\. Give the path of a folder/,
    ],
    [
      join(file, "sub"),
      /^error: The output folder .*a-file\/sub cannot be created: .*a-file is a file, not a folder\.$/,
    ],
  ];
  for (const command of ["bulk", "export"]) {
    for (const [path, message] of cases) {
      const r = await runCli([command, "--fhir-url", server.baseUrl, path], { clock });
      assert.equal(r.code, 2, `${command} ${path}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("["));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, message);
      assert.doesNotMatch(r.stderr, /os error/);
    }
  }
  assert.equal(server.requests.filter((r) => r.kind === "kickoff").length, 0);
  assert.equal(await Deno.readTextFile(file), "x");
});

/** Makes `dir` unwritable even for root (an immutable folder), or says why it cannot. */
async function makeUnwritable(dir: string): Promise<(() => Promise<void>) | string> {
  if (Deno.uid() !== 0) {
    await Deno.chmod(dir, 0o555);
    return () => Deno.chmod(dir, 0o755);
  }
  const r = await new Deno.Command("chattr", { args: ["+i", dir], stderr: "piped" }).output()
    .catch((e) => ({ success: false, stderr: new TextEncoder().encode(String(e)) }));
  if (!r.success) return `chattr +i failed: ${new TextDecoder().decode(r.stderr)}`;
  return async () => {
    await new Deno.Command("chattr", { args: ["-i", dir] }).output();
  };
}

Deno.test("an output folder that cannot be written is a usage error, found before the server is asked", async () => {
  await using server = await FakeFhirServer.start({ patients: 1 });
  await using out = await tempDir();
  const locked = join(out.path, "locked");
  await Deno.mkdir(locked);
  const undo = await makeUnwritable(locked);
  if (typeof undo === "string") throw new Error(`cannot make a folder unwritable here: ${undo}`);
  try {
    for (const path of [locked, join(locked, "new")]) {
      const r = await runCli(["bulk", "--fhir-url", server.baseUrl, path], {
        clock: new FakeClock(),
      });
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        errorLines(r.stderr)[0]!,
        /^error: Cannot write to .*locked.*: permission denied\. Give an output folder you can write to\.$/,
      );
    }
    assert.equal(server.requests.filter((r) => r.kind === "kickoff").length, 0);
  } finally {
    await undo();
  }
});

Deno.test("--cancel on an unused path creates nothing and says there is nothing to cancel", async () => {
  await using server = await FakeFhirServer.start({ patients: 1 });
  await using out = await tempDir();
  const clock = new FakeClock();
  const missing = join(out.path, "never-used");
  const r = await runCli(["bulk", "--fhir-url", server.baseUrl, "--cancel", missing], { clock });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /nothing to cancel/);
  assert.equal(await existsPath(missing), false);
  const empty = join(out.path, "empty");
  await Deno.mkdir(empty);
  const e = await runCli(["bulk", "--fhir-url", server.baseUrl, "--cancel", empty], { clock });
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(await listFiles(empty), [], "no .lock left behind");
  assert.equal(server.requests.filter((q) => q.kind === "delete").length, 0);
});

Deno.test("an unreachable server (DNS) creates no folder and no lock, and exits 1", async () => {
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await runCli(
    ["bulk", "--fhir-url", "http://no-such-host.invalid/fhir", dir],
    { clock: new FakeClock() },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    errorLines(r.stderr)[0]!,
    /^error: Cannot reach the FHIR server at http:\/\/no-such-host\.invalid\/fhir: /,
  );
  assert.equal(await existsPath(dir), false);
});

Deno.test("a server that stops answering for over a minute is reported, in progress and for status", async () => {
  const seen: unknown[] = [];
  let dir = "";
  const clock = new HookClock(() => {
    try {
      seen.push(JSON.parse(Deno.readTextFileSync(join(dir, ".metadata"))).unreachable);
    } catch {
      // Not written yet.
    }
  });
  await using server = await FakeFhirServer.start({ patients: 2, now: () => clock.now() });
  await using out = await tempDir();
  dir = join(out.path, "x");
  // Every status poll fails for 12 tries (about 40 minutes of back-off), then the server is back.
  server.addFault({ target: "status", times: 12, fault: { kind: "status", status: 503 } });
  const r = await runCli(["bulk", "--fhir-url", server.baseUrl, ...TYPES, dir], { clock });
  assert.equal(r.code, 0, r.stderr);
  const away = r.events.filter((e) => e.type === "unreachable");
  assert.ok(away.length >= 3, "reported with each retry past the first minute");
  const first = away[0] as { sinceMs: number; retries: number };
  assert.ok(clock.now() - first.sinceMs > 60_000);
  assert.ok(r.events.some((e) => e.type === "reachable"), "and its return");
  const recorded = seen.filter(Boolean) as { since: string; retries: number }[];
  assert.ok(recorded.length > 0, "status could see it in .metadata while it lasted");
  assert.match(recorded[0]!.since, /^\d{4}-\d\d-\d\dT/);
  assert.equal(
    JSON.parse(await Deno.readTextFile(join(dir, ".metadata"))).unreachable,
    undefined,
    "cleared once the server answered again",
  );
});
