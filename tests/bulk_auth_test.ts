/**
 * `bulk` end to end with SMART Backend Services: every fixture key format, the kid, token endpoint
 * discovery, v1/v2 scopes, refreshing before expiry, and re-authorizing after an unexpected 401.
 * The fake server verifies every client assertion for real.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FakeClock } from "../src/clock.ts";
import { FakeFhirServer, type FakeServerOptions } from "./fake_server/mod.ts";
import {
  assertComplete,
  clientAssertions,
  decodeJwt,
  HookClock,
  requestsOf,
} from "./helpers/bulk_e2e.ts";
import { runCli } from "./helpers/cli.ts";
import { logRows, tempDir } from "./helpers/folder.ts";

const TYPES = ["Patient", "Condition"];
const CLIENT = "e2e-client";

function keyPath(name: string): string {
  return fileURLToPath(new URL(`../testdata/keys/${name}`, import.meta.url));
}

function publicJwks(name: string): { keys: (JsonWebKey & { kid: string })[] } {
  return JSON.parse(Deno.readTextFileSync(keyPath(name)));
}

/** A server with SMART auth and one registered client. */
function smartServer(
  jwks: { keys: JsonWebKey[] },
  options: FakeServerOptions = {},
  tokenLifetimeSeconds?: number,
): Promise<FakeFhirServer> {
  return FakeFhirServer.start({
    patients: 2,
    ...options,
    auth: {
      mode: "smart",
      clients: [{ clientId: CLIENT, jwks }],
      ...(tokenLifetimeSeconds ? { tokenLifetimeSeconds } : {}),
    },
  });
}

function bulk(
  server: FakeFhirServer,
  dir: string,
  clock: FakeClock,
  key: string,
  ...flags: string[]
) {
  return runCli([
    "bulk",
    "--fhir-url",
    server.baseUrl,
    "--type",
    TYPES.join(","),
    "--smart-client-id",
    CLIENT,
    "--smart-key",
    key,
    ...flags,
    dir,
  ], { clock });
}

Deno.test("every fixture key format signs an assertion the server accepts, with its alg and kid", async () => {
  const cases = [
    ["rs384.private.jwks.json", "rs384.public.jwks.json", "RS384"],
    ["es384.private.jwks.json", "es384.public.jwks.json", "ES384"],
    ["rsa_pkcs8.pem", "rsa_pkcs8.public.jwks.json", "RS384"],
    ["rsa_pkcs1.pem", "rsa_pkcs1.public.jwks.json", "RS384"],
    ["ec_p384_sec1.pem", "ec_p384_sec1.public.jwks.json", "ES384"],
  ] as const;
  for (const [key, pub, alg] of cases) {
    const jwks = publicJwks(pub);
    await using server = await smartServer(jwks);
    await using out = await tempDir();
    const dir = join(out.path, "x");
    const r = await bulk(server, dir, new FakeClock(), keyPath(key));
    assert.equal(r.code, 0, `${key}: ${r.stderr}`);
    await assertComplete(dir, server, TYPES);
    const tokens = requestsOf(server, "token");
    assert.deepEqual(tokens.map((t) => t.status), [200], key);
    const { header, claims } = decodeJwt(clientAssertions(server)[0]!);
    assert.equal(header.alg, alg, key);
    assert.equal(header.kid, jwks.keys[0]!.kid, key);
    assert.equal(header.typ, "JWT", key);
    assert.equal(claims.iss, CLIENT);
    assert.equal(claims.sub, CLIENT);
    assert.equal(claims.aud, server.tokenUrl);
    assert.ok(typeof claims.jti === "string" && claims.jti.length > 0);
    assert.ok(Number(claims.exp) <= Date.now() / 1000 + 300, `${key}: exp at most 5 minutes ahead`);
    assert.deepEqual(server.violations, []);
  }
});

Deno.test("--smart-key-id overrides the kid", async () => {
  const jwks = publicJwks("rsa_pkcs8.public.jwks.json");
  const renamed: JsonWebKey & { kid: string } = { ...jwks.keys[0]!, kid: "registered-as-this" };
  await using server = await smartServer({ keys: [renamed] });
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(
    server,
    dir,
    new FakeClock(),
    keyPath("rsa_pkcs8.pem"),
    "--smart-key-id",
    "registered-as-this",
  );
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);
  assert.equal(decodeJwt(clientAssertions(server)[0]!).header.kid, "registered-as-this");
});

Deno.test("the token endpoint comes from smart-configuration, else the CapabilityStatement, else --token-url", async () => {
  const jwks = publicJwks("es384.public.jwks.json");
  const key = keyPath("es384.private.jwks.json");
  const cases: [string, FakeServerOptions, boolean, string][] = [
    ["smart-configuration", { capabilityOauthUris: false }, false, "200"],
    ["CapabilityStatement", { smartConfiguration: false }, false, "404"],
    ["--token-url", { smartConfiguration: false, capabilityOauthUris: false }, true, "404"],
  ];
  for (const [what, options, flag, smartConfigStatus] of cases) {
    await using server = await smartServer(jwks, options);
    await using out = await tempDir();
    const dir = join(out.path, "x");
    const flags = flag ? ["--token-url", server.tokenUrl] : [];
    const r = await bulk(server, dir, new FakeClock(), key, ...flags);
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
    await assertComplete(dir, server, TYPES);
    assert.equal(String(requestsOf(server, "smart-config")[0]?.status), smartConfigStatus, what);
    assert.deepEqual(requestsOf(server, "token").map((t) => t.status), [200], what);
  }

  // Neither advertised nor given: one clear line naming --token-url, before any export starts.
  await using server = await smartServer(jwks, {
    smartConfiguration: false,
    capabilityOauthUris: false,
  });
  await using out = await tempDir();
  const r = await bulk(server, join(out.path, "x"), new FakeClock(), key);
  assert.equal(r.code, 5, r.stderr);
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0]!, /--token-url/);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
  assert.equal(requestsOf(server, "kickoff", "token").length, 0);
});

Deno.test("SMART v2 scopes only when the server advertises only permission-v2", async () => {
  const jwks = publicJwks("rs384.public.jwks.json");
  for (
    const [versions, suffix] of [[["v2"], ".rs"], [["v1", "v2"], ".read"], [
      ["v1"],
      ".read",
    ]] as const
  ) {
    await using server = await smartServer(jwks, { scopeVersions: [...versions] });
    await using out = await tempDir();
    const dir = join(out.path, "x");
    const r = await bulk(server, dir, new FakeClock(), keyPath("rs384.private.jwks.json"));
    assert.equal(r.code, 0, `${versions}: ${r.stderr}`);
    await assertComplete(dir, server, TYPES);
    const [token] = requestsOf(server, "token");
    const scopes = new URLSearchParams(token!.body).get("scope")!.split(" ");
    assert.ok(scopes.includes(`system/Patient${suffix}`), `${versions}: ${scopes}`);
    assert.ok(
      scopes.every((s) => /^system\/[A-Z][A-Za-z]+\./.test(s) && s.endsWith(suffix)),
      `${scopes}`,
    );
  }
});

Deno.test("a long export refreshes its token before it expires: no 401 at all", async () => {
  const clock = new FakeClock();
  await using server = await smartServer(
    publicJwks("rs384.public.jwks.json"),
    { pollsUntilReady: 10, progressRetryAfter: "30", now: () => clock.now() },
    60,
  );
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock, keyPath("rs384.private.jwks.json"));
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);
  assert.ok(clock.sleeps.reduce((a, b) => a + b, 0) >= 300_000, "the export took 5 minutes");
  const tokens = requestsOf(server, "token");
  assert.ok(tokens.length >= 5, `${tokens.length} tokens for a 5-minute export of 1-minute tokens`);
  assert.ok(tokens.every((t) => t.status === 200));
  assert.deepEqual(server.requests.filter((q) => q.status === 401).map((q) => q.path), []);
  // Every assertion was new (the server refuses a replayed jti).
  const jtis = clientAssertions(server).map((a) => decodeJwt(a).claims.jti);
  assert.equal(new Set(jtis).size, jtis.length);
});

Deno.test("a token the server expires early gets one 401, one new token, and the export goes on", async () => {
  // The server's clock jumps 150 s ahead after the first wait: the 100 s token the client still
  // trusts is dead on the server.
  let offset = 0;
  const clock = new HookClock((_ms, index) => {
    if (index === 0) offset = 150_000;
  });
  await using server = await smartServer(
    publicJwks("rs384.public.jwks.json"),
    { now: () => clock.now() + offset },
    100,
  );
  await using out = await tempDir();
  const dir = join(out.path, "x");
  const r = await bulk(server, dir, clock, keyPath("rs384.private.jwks.json"), "--verbose");
  assert.equal(r.code, 0, r.stderr);
  await assertComplete(dir, server, TYPES);

  const refused = server.requests.filter((q) => q.status === 401);
  assert.equal(refused.length, 1);
  assert.equal(refused[0]!.kind, "status");
  const tokens = requestsOf(server, "token");
  assert.deepEqual(tokens.map((t) => t.status), [200, 200], "re-authorized once");
  const [again, retried] = server.requests.filter((q) => q.seq > refused[0]!.seq);
  assert.equal(again!.kind, "token");
  assert.equal(retried!.path, refused[0]!.path, "the refused request was sent again");
  assert.notEqual(retried!.headers["authorization"], refused[0]!.headers["authorization"]);
  assert.equal(retried!.status, 202);
  // The 401 did not count as a failed try.
  const rows = await logRows(dir);
  assert.equal(rows.filter((row) => row.eventId === "status_error").length, 0);
  assert.match(r.stderr, /401/);
});

Deno.test("the token request never waits for a connection: every connection busy, one of them", async () => {
  // Crawl searches fill every connection at once and each waits for the token; the token request
  // must not queue behind them (it did: the run hung with no request sent).
  const clock = new FakeClock();
  await using server = await smartServer(publicJwks("rs384.public.jwks.json"), { patients: 4 }, 60);
  await using out = await tempDir();
  const ids = ["pat-0001", "pat-0002", "pat-0003", "pat-0004"].join(",");
  for (const connections of ["1", "2"]) {
    const run = runCli([
      "crawl",
      "--fhir-url",
      server.baseUrl,
      "--type",
      "Patient,Condition,Observation",
      "--smart-client-id",
      CLIENT,
      "--smart-key",
      keyPath("rs384.private.jwks.json"),
      "--max-connections",
      connections,
      "--id-list",
      ids,
      join(out.path, `c${connections}`),
    ], { clock });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<"hung">((
      resolve,
    ) => (timer = setTimeout(() => resolve("hung"), 30_000)));
    const r = await Promise.race([run, hung]);
    clearTimeout(timer);
    assert.notEqual(r, "hung", `--max-connections ${connections}: the crawl hung`);
    if (r !== "hung") assert.equal(r.code, 0, r.stderr);
  }
  assert.ok(requestsOf(server, "token").length >= 1);
});
