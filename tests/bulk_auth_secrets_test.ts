/**
 * `bulk` end to end with Basic and static Bearer auth, Epic's quirks, key-file mistakes, and the
 * promise that no secret (token, assertion, password, private key) ever reaches the output or
 * the terminal.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { assertComplete, clientAssertions, requestsOf } from "./helpers/bulk_e2e.ts";
import { runCli, runCliProcess } from "./helpers/cli.ts";
import { idsByType, listFiles, tempDir } from "./helpers/folder.ts";

const TYPES = ["Patient", "Condition"];
const CLIENT = "e2e-client";
const PASSWORD = "correct horse 7$battery";
const TOKEN = "static-bearer-4f1e9c2a";

function keyPath(name: string): string {
  return fileURLToPath(new URL(`../testdata/keys/${name}`, import.meta.url));
}
const JWKS = JSON.parse(Deno.readTextFileSync(keyPath("rs384.public.jwks.json")));
const SMART_FLAGS = [
  "--smart-client-id",
  CLIENT,
  "--smart-key",
  keyPath("rs384.private.jwks.json"),
];

function bulk(server: FakeFhirServer, dir: string, flags: string[], types = TYPES) {
  return runCli(["bulk", "--fhir-url", server.baseUrl, "--type", types.join(","), ...flags, dir], {
    clock: new FakeClock(),
  });
}

/** The one `error:` line of a failed run, after checking there is exactly one and no stack. */
function errorLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.equal(lines.length, 1, stderr);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  return lines[0]!;
}

/** Everything a run left for people and tools to read. */
async function visibleText(dir: string, run: { stdout: string; stderr: string }): Promise<string> {
  const files = await Promise.all(
    ["log.ndjson", ".metadata"].map((f) => Deno.readTextFile(join(dir, f))),
  );
  return [run.stdout, run.stderr, ...files].join("\n");
}

Deno.test("Basic auth: the right password exports, a wrong one fails in one line without it", async () => {
  await using server = await FakeFhirServer.start({
    patients: 2,
    auth: { mode: "basic", user: "alice", password: PASSWORD },
  });
  await using out = await tempDir();
  const passwordFile = join(out.path, "passwd.txt");
  await Deno.writeTextFile(passwordFile, `${PASSWORD}\n`);
  const dir = join(out.path, "ok");
  const ok = await bulk(server, dir, ["--basic-user", "alice", "--basic-passwd", passwordFile]);
  assert.equal(ok.code, 0, ok.stderr);
  await assertComplete(dir, server, TYPES);
  assert.ok(requestsOf(server, "kickoff", "status", "file").every((q) => q.status !== 401));

  const kickoffsBefore = requestsOf(server, "kickoff").length;
  const bad = join(out.path, "bad");
  const wrong = "wrong-Pa55word-xyz";
  const r = await bulk(server, bad, ["--basic-user", "alice", "--basic-passwd", wrong]);
  assert.equal(r.code, 5, `refused credentials: a rerun cannot fix them\n${r.stderr}`);
  const line = errorLine(r.stderr);
  assert.match(line, /401/);
  for (const secret of [wrong, PASSWORD, btoa(`alice:${wrong}`)]) {
    assert.ok(!(r.stderr + r.stdout).includes(secret), `the output shows ${secret}`);
  }
  const refused = requestsOf(server, "kickoff").slice(kickoffsBefore);
  assert.ok(refused.length >= 1 && refused.every((q) => q.status === 401));
  assert.equal(await Deno.stat(bad).then(() => true, () => false), false, "nothing written");
});

Deno.test("a static bearer token from a file, and from SMART_FETCH_BEARER_TOKEN in a subprocess", async () => {
  await using server = await FakeFhirServer.start({
    patients: 2,
    auth: { mode: "bearer", token: TOKEN },
    progressRetryAfter: "0",
  });
  await using out = await tempDir();
  const tokenFile = join(out.path, "token.txt");
  await Deno.writeTextFile(tokenFile, `${TOKEN}\n`);
  const fromFile = join(out.path, "file");
  const r = await bulk(server, fromFile, ["--bearer-token", tokenFile]);
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(fromFile, server, TYPES);

  const seen = server.requests.length;
  const fromEnv = join(out.path, "env");
  const p = await runCliProcess(
    ["bulk", "--fhir-url", server.baseUrl, "--type", TYPES.join(","), fromEnv],
    { env: { SMART_FETCH_BEARER_TOKEN: TOKEN } },
  );
  assert.equal(p.code, 0, p.stderr);
  await assertComplete(fromEnv, server, TYPES);
  assert.ok(!(p.stdout + p.stderr).includes(TOKEN));
  const sent = server.requests.slice(seen).filter((q) =>
    ["kickoff", "status", "file", "delete"].includes(q.kind)
  );
  assert.ok(sent.length >= 4);
  for (const q of sent) assert.equal(q.headers["authorization"], `Bearer ${TOKEN}`, q.path);
});

Deno.test("no secret reaches stdout, stderr, log.ndjson or .metadata, even with --verbose", async () => {
  await using out = await tempDir();
  // SMART, with a failed poll and an early-expired token so errors and re-auth get logged too.
  {
    await using server = await FakeFhirServer.start({
      patients: 2,
      auth: { mode: "smart", clients: [{ clientId: CLIENT, jwks: JWKS }] },
    });
    server.addFault({ target: "status", fault: { kind: "status", status: 500 } });
    server.addFault({
      target: "file",
      fault: { kind: "status", status: 401, body: { error: "invalid_token" } },
    });
    const dir = join(out.path, "smart");
    const r = await bulk(server, dir, [...SMART_FLAGS, "--verbose"]);
    assert.equal(r.code, 0, r.stderr);
    await assertComplete(dir, server, TYPES);
    const text = await visibleText(dir, r);
    const tokens = new Set(
      server.requests.map((q) => q.headers["authorization"]).filter((h) => h !== undefined)
        .map((h) => h.replace(/^Bearer /, "")),
    );
    assert.ok(tokens.size >= 2, "two tokens were issued");
    const assertions = clientAssertions(server);
    const privateKey = JSON.parse(await Deno.readTextFile(keyPath("rs384.private.jwks.json")));
    const secrets = [
      ...tokens,
      ...assertions,
      ...assertions.map((a) => a.split(".")[2]!),
      ...["d", "p", "q", "dp", "dq", "qi"].map((k) => String(privateKey.keys[0][k])),
    ];
    for (const secret of secrets) {
      assert.ok(secret.length > 10 && !text.includes(secret), `leaked: ${secret.slice(0, 12)}...`);
    }
    assert.match(r.stderr, /GET .*\$export-status/, "--verbose did show the requests");
  }
  // Basic.
  {
    await using server = await FakeFhirServer.start({
      patients: 2,
      auth: { mode: "basic", user: "alice", password: PASSWORD },
    });
    const dir = join(out.path, "basic");
    const r = await bulk(server, dir, ["--basic-user", "alice", "--basic-passwd", PASSWORD, "-v"]);
    assert.equal(r.code, 0, r.stderr);
    const text = await visibleText(dir, r);
    for (const secret of [PASSWORD, btoa(`alice:${PASSWORD}`)]) {
      assert.ok(!text.includes(secret), `leaked: ${secret}`);
    }
  }
});

Deno.test("a static bearer token, given as a value or in a file, never shows, even with --verbose", async () => {
  await using server = await FakeFhirServer.start({
    patients: 2,
    auth: { mode: "bearer", token: TOKEN },
    progressRetryAfter: "0",
  });
  await using out = await tempDir();
  const tokenFile = join(out.path, "token.txt");
  await Deno.writeTextFile(tokenFile, `${TOKEN}\n`);
  for (const [name, value] of [["value", TOKEN], ["file", tokenFile]] as const) {
    // A failed poll and a failed download, so retries and errors are shown and logged too.
    server.addFault({ target: "status", fault: { kind: "status", status: 503 } });
    server.addFault({ target: "file", fault: { kind: "status", status: 500, body: "transient" } });
    const seen = server.requests.length;
    const dir = join(out.path, name);
    const r = await bulk(server, dir, ["--bearer-token", value, "--verbose"]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    await assertComplete(dir, server, TYPES);
    assert.match(r.stderr, /GET .*\$export-status/, `${name}: --verbose did show the requests`);
    assert.match(r.stderr, /503/, `${name}: the failed poll was shown`);
    const text = await visibleText(dir, r);
    for (const secret of [TOKEN, `Bearer ${TOKEN}`, TOKEN.slice(-12)]) {
      assert.ok(!text.includes(secret), `${name}: leaked ${secret}`);
    }
    // The server did get the token, on every FHIR request of the run.
    const sent = requestsOf(server, "kickoff", "status", "file", "delete").filter((q) =>
      q.seq > seen
    );
    assert.ok(sent.length >= 5, `${name}: ${sent.length} requests`);
    for (const q of sent) {
      assert.equal(q.headers["authorization"], `Bearer ${TOKEN}`, `${name}: ${q.kind} ${q.path}`);
    }
    assert.ok(sent.every((q) => q.status !== 401), `${name}: no request was refused`);
  }
});

Deno.test("Epic: every FHIR request carries Epic-Client-ID, and the Observation filter drops 3 categories", async () => {
  await using server = await FakeFhirServer.start({
    patients: 3,
    software: { name: "Epic", version: "May 2025" },
    auth: { mode: "smart", clients: [{ clientId: CLIENT, jwks: JWKS }] },
  });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const types = ["Patient", "Observation"];
  const r = await bulk(server, dir, SMART_FLAGS, types);
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, types, { epic: true });

  const fhir = requestsOf(server, "kickoff", "status", "file", "delete");
  assert.ok(fhir.length >= 5);
  for (const q of fhir) assert.equal(q.headers["epic-client-id"], CLIENT, `${q.kind} ${q.path}`);
  const filter = new URLSearchParams(requestsOf(server, "kickoff")[0]!.query).get("_typeFilter")!;
  assert.equal(
    filter,
    "Observation?category=social-history%2Cvital-signs%2Cimaging%2Claboratory%2Csurvey%2Cexam",
  );
  // Epic data has Observations in the dropped categories: they must not be in the folder.
  const dropped = server.resources("Observation").filter((o) =>
    JSON.stringify(o.category).match(/"(procedure|therapy|activity)"/) &&
    !JSON.stringify(o.category).match(
      /"(social-history|vital-signs|imaging|laboratory|survey|exam)"/,
    )
  );
  assert.ok(dropped.length > 0, "the data set has Observations only in dropped categories");
  const got = new Set((await idsByType(dir)).get("Observation"));
  assert.ok(dropped.every((o) => !got.has(String(o.id))));
});

Deno.test("key file mistakes: a missing file and a public JWKS are usage errors (exit 2)", async () => {
  await using server = await FakeFhirServer.start({
    patients: 1,
    auth: { mode: "smart", clients: [{ clientId: CLIENT, jwks: JWKS }] },
  });
  await using out = await tempDir();
  const missing = join(out.path, "no-such-key.jwks");
  const r1 = await bulk(server, join(out.path, "a"), [
    "--smart-client-id",
    CLIENT,
    "--smart-key",
    missing,
  ]);
  assert.equal(r1.code, 2, r1.stderr);
  assert.ok(errorLine(r1.stderr).includes(missing), r1.stderr);

  const pub = keyPath("rs384.public.jwks.json");
  const r2 = await bulk(server, join(out.path, "b"), [
    "--smart-client-id",
    CLIENT,
    "--smart-key",
    pub,
  ]);
  assert.equal(r2.code, 2, r2.stderr);
  const line = errorLine(r2.stderr);
  assert.ok(line.includes(pub), line);
  assert.match(line, /private key/i);

  assert.equal(requestsOf(server, "token", "kickoff").length, 0, "nothing was sent");
  for (const d of ["a", "b"]) {
    const files = await listFiles(join(out.path, d)).catch(() => []);
    assert.deepEqual(files.filter((f) => f !== ".lock" && f !== ".metadata"), [], d);
  }
});
