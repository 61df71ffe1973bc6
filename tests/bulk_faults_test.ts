/**
 * `bulk` end to end against a misbehaving server: 429 with every Retry-After form, the per-server
 * throttle, transient 5xx, bodies cut short, slow answers. Every run must end with the server's
 * data exactly once.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer, type Fault } from "./fake_server/mod.ts";
import {
  assertComplete,
  expectedIds,
  HookClock,
  requestsOf,
  SteppingClock,
} from "./helpers/bulk_e2e.ts";
import { runCli } from "./helpers/cli.ts";
import { logRows, tempDir } from "./helpers/folder.ts";

const TYPES = ["Patient", "Condition", "Observation"];

/** Runs `bulk` of TYPES into a fresh folder under `root`. */
function bulk(server: FakeFhirServer, dir: string, clock: FakeClock, ...flags: string[]) {
  return runCli(["bulk", "--fhir-url", server.baseUrl, "--type", TYPES.join(","), ...flags, dir], {
    clock,
  });
}

/** The wait between the faulted status poll and the next one, in server (= fake clock) time. */
function gapAfterFault(server: FakeFhirServer, status: number): number {
  const polls = requestsOf(server, "status");
  const i = polls.findIndex((r) => r.status === status);
  assert.ok(i >= 0 && polls[i + 1], `a ${status} poll followed by another poll`);
  return polls[i + 1]!.time - polls[i]!.time;
}

Deno.test("429 on the status URL with Retry-After in seconds waits exactly that long", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({ patients: 3, now: () => clock.now() });
  server.addFault({ target: "status", fault: { kind: "status", status: 429, retryAfter: "3" } });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock);
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);
  // The 429's wait, then the two 202 polls' Retry-After: 1.
  assert.deepEqual(clock.sleeps, [3000, 1000, 1000]);
  assert.deepEqual(requestsOf(server, "status").map((p) => p.status), [429, 202, 202, 200]);
  assert.ok(gapAfterFault(server, 429) >= 3000);
  const errors = (await logRows(dir)).filter((row) => row.eventId === "status_error");
  assert.deepEqual(errors.map((e) => e.eventDetail.code), [429]);
});

Deno.test("429 with an HTTP-date Retry-After waits until that date", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({ patients: 3, now: () => clock.now() });
  const date = new Date(Math.ceil((clock.now() + 20_000) / 1000) * 1000);
  server.addFault({
    target: "status",
    fault: { kind: "status", status: 429, retryAfter: date.toUTCString() },
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock);
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);
  // The delay the date meant when the 429 came (server time = the fake clock).
  const intended = date.getTime() - requestsOf(server, "status")[0]!.time;
  assert.ok(intended > 15_000, `${intended}`);
  const first = clock.sleeps[0]!;
  assert.ok(Math.abs(first - intended) <= 1000, `waited ${first} ms, the date meant ${intended}`);
  assert.ok(gapAfterFault(server, 429) >= intended - 1000);
  assert.ok(Math.max(...clock.sleeps) === first);
});

Deno.test("an absurd epoch Retry-After is capped at 5 minutes, or at --max-retry-wait", async () => {
  const epoch = String(Math.floor(Date.now() / 1000) + 10 * 86_400);
  for (const [flags, cap] of [[[], 300_000], [["--max-retry-wait", "10s"], 10_000]] as const) {
    const clock = new FakeClock();
    await using server = await FakeFhirServer.start({ patients: 3, now: () => clock.now() });
    server.addFault({
      target: "status",
      fault: { kind: "status", status: 429, retryAfter: epoch },
    });
    await using out = await tempDir();
    const dir = join(out.path, "x");
    const r = await bulk(server, dir, clock, ...flags);
    assert.equal(r.code, 0, r.stderr);
    await assertComplete(dir, server, TYPES);
    assert.ok(clock.sleeps.includes(cap), `a wait of ${cap} in ${clock.sleeps}`);
    assert.equal(Math.max(...clock.sleeps), cap, "no wait above the cap");
    assert.ok(gapAfterFault(server, 429) >= cap);
  }
});

Deno.test("an absurd Retry-After on a 202 status poll is capped at 5 minutes, or at --max-retry-wait", async () => {
  // A day in seconds, an HTTP-date a month ahead, and an epoch-like number (year 5138).
  const month = new Date(Date.now() + 30 * 86_400_000).toUTCString();
  for (const retryAfter of ["86400", month, "99999999999"]) {
    for (const [flags, cap] of [[[], 300_000], [["--max-retry-wait", "10s"], 10_000]] as const) {
      const what = `Retry-After ${retryAfter}${flags.length ? ` with ${flags.join(" ")}` : ""}`;
      const clock = new FakeClock();
      await using server = await FakeFhirServer.start({
        patients: 3,
        pollsUntilReady: 2,
        progressRetryAfter: retryAfter,
        now: () => clock.now(),
      });
      await using out = await tempDir();
      const dir = join(out.path, "x");
      const r = await bulk(server, dir, clock, ...flags);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      await assertComplete(dir, server, TYPES);
      const polls = requestsOf(server, "status");
      assert.deepEqual(polls.map((p) => p.status), [202, 202, 200], what);
      // The only waits are the two between polls, each the capped Retry-After.
      assert.ok(
        clock.sleeps.every((ms) => ms <= cap),
        `${what}: waits ${clock.sleeps} over ${cap}`,
      );
      assert.deepEqual(clock.sleeps, [cap, cap], what);
      // And the server saw the polls that far apart (server time = the fake clock).
      const gaps = polls.slice(1).map((p, i) => p.time - polls[i]!.time);
      assert.ok(gaps.every((gap) => gap >= cap && gap < cap + 1000), `${what}: gaps ${gaps}`);
      const progress = (await logRows(dir)).filter((row) => row.eventId === "status_progress");
      assert.deepEqual(progress.map((row) => row.eventDetail.retryAfter), [retryAfter, retryAfter]);
    }
  }
});

Deno.test("a 429 on one file download holds back every request to that server", async () => {
  // Each wait really takes 150 ms, and fake time moves only when it ends: without the throttle,
  // the other workers would download many files during the pause, at a time before its end.
  const clock = new SteppingClock(150);
  await using server = await FakeFhirServer.start({
    patients: 6,
    resourcesPerFile: 2,
    now: () => clock.now(),
  });
  server.addFault({
    target: "file",
    skip: 2,
    fault: { kind: "status", status: 429, retryAfter: "7" },
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock, "--max-connections", "5");
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);

  const throttled = server.requests.find((q) => q.status === 429)!;
  const pauseEnd = throttled.time + 7000;
  const later = server.requests.filter((q) => q.seq > throttled.seq);
  // Only requests already on the wire when the 429 came (at most 4 others) may arrive during the
  // pause; every later one waited for its end.
  const during = later.filter((q) => q.time < pauseEnd);
  assert.ok(during.length <= 4, `${during.length} requests during the pause`);
  assert.ok(during.every((q) => q.kind === "file"));
  const after = later.filter((q) => q.time >= pauseEnd && q.kind === "file");
  assert.ok(after.length >= 10, `${after.length} downloads after the pause`);
  assert.ok(after.some((q) => q.path === throttled.path), "the throttled file was fetched again");
  assert.ok(clock.sleeps.includes(7000), `${clock.sleeps}`);
});

Deno.test("transient 5xx on the kick-off, the status URL and a file are retried", async () => {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({ patients: 3 });
  server.addFault({ target: "kickoff", fault: { kind: "status", status: 500, body: "transient" } });
  // 507 is not retried for its status code; only the transient OperationOutcome makes it so.
  server.addFault({
    target: "status",
    times: 2,
    fault: { kind: "status", status: 507, body: "transient" },
  });
  server.addFault({
    target: "file",
    pathIncludes: "Condition.001",
    fault: { kind: "status", status: 503, body: "transient" },
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock);
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);

  assert.deepEqual(requestsOf(server, "kickoff").map((q) => q.status), [500, 202]);
  assert.deepEqual(requestsOf(server, "status").map((q) => q.status), [507, 507, 202, 202, 200]);
  const condition = requestsOf(server, "file").filter((q) => q.path.includes("Condition.001"));
  assert.deepEqual(condition.map((q) => q.status), [503, 200]);

  const rows = await logRows(dir);
  assert.equal(rows.filter((row) => row.eventId === "kickoff").length, 1);
  const statusErrors = rows.filter((row) => row.eventId === "status_error");
  assert.deepEqual(statusErrors.map((row) => row.eventDetail.code), [507, 507]);
  assert.ok(statusErrors.every((row) => /transient/.test(JSON.stringify(row.eventDetail.body))));
  assert.equal(rows.filter((row) => row.eventId === "download_error").length, 0);
  assert.equal(rows.at(-1)!.eventId, "export_complete");
});

/** Runs an export whose Observation.001 download gets `fault` once; checks it was retried. */
async function cutBodyRun(fault: Fault, gzipFiles: boolean): Promise<void> {
  const clock = new FakeClock();
  await using server = await FakeFhirServer.start({ patients: 4, gzipFiles });
  server.addFault({ target: "file", pathIncludes: "Observation.001", fault });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock);
  const what = `${fault.kind}, gzipFiles ${gzipFiles}`;
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  await assertComplete(dir, server, TYPES);
  const tries = requestsOf(server, "file").filter((q) => q.path.includes("Observation.001"));
  assert.equal(tries.length, 2, `${what}: the cut file was fetched again`);
  if (gzipFiles) assert.match(tries[0]!.headers["accept-encoding"] ?? "", /gzip/);
  const rows = await logRows(dir);
  const done = rows.filter((row) =>
    row.eventId === "download_complete" &&
    String(row.eventDetail.fileUrl).includes("Observation.001")
  );
  assert.equal(done.length, 1, what);
  const observations = expectedIds(server, ["Observation"]).get("Observation")!.length;
  assert.equal(done[0]!.eventDetail.resourceCount, Math.min(25, observations), what);
}

Deno.test("a connection reset in the middle of a file body is retried (gzip and plain)", async () => {
  for (const gzip of [true, false]) await cutBodyRun({ kind: "reset", afterBytes: 300 }, gzip);
});

Deno.test("a body shorter than its Content-Length is retried (gzip and plain)", async () => {
  for (const gzip of [true, false]) await cutBodyRun({ kind: "truncate", afterBytes: 300 }, gzip);
});

Deno.test("a file slower than --request-timeout is abandoned and fetched again", async () => {
  await using server = await FakeFhirServer.start({ patients: 3 });
  // The first try is answered only after 30 s (closing the server ends the wait): with the
  // default timeout of 5 minutes, the client would get that answer and never try again.
  server.addFault({
    target: "file",
    pathIncludes: "Condition.001",
    fault: { kind: "latency", ms: 30_000 },
  });
  const tries = () => requestsOf(server, "file").filter((q) => q.path.includes("Condition.001"));
  // What the server had answered to the tries so far, at each of the client's waits.
  const atSleeps: number[][] = [];
  const clock = new HookClock(() => atSleeps.push(tries().map((q) => q.status)));
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock, "--request-timeout", "0.3s");
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);
  assert.deepEqual(tries().map((q) => q.status).slice(1), [200], "one more try, answered");
  // The client did not wait for the slow answer: it backed off to try again while the server
  // still held the first try (status 0: not answered yet).
  assert.ok(
    atSleeps.some((statuses) => statuses.length === 1 && statuses[0] === 0),
    `a wait after an unanswered first try (${JSON.stringify(atSleeps)})`,
  );
  assert.match(r.stderr, /No answer within 0.3s|retry/i);
});
