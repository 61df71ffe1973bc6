/** The SMART token endpoint (real JWT verification) and the other auth modes. */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createPrivateKey } from "node:crypto";
import { importJWK, type JWK, SignJWT } from "jose";
import { FakeFhirServer } from "./mod.ts";
import { makeClient, requestToken } from "./test_helpers.ts";

Deno.test("token endpoint accepts valid RS384 and ES384 assertions; the token opens FHIR endpoints", async () => {
  const rs = await makeClient("RS384", "rs-client");
  const es = await makeClient("ES384", "es-client");
  await using server = await FakeFhirServer.start({
    auth: { mode: "smart", clients: [rs.client, es.client], tokenLifetimeSeconds: 120 },
  });
  for (const client of [rs, es]) {
    const { status, body } = await requestToken(server, await client.assertion(server.tokenUrl));
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.token_type, "bearer");
    assert.equal(body.expires_in, 120);
    assert.equal(body.scope, "system/Patient.read system/Observation.read");
    const res = await fetch(`${server.baseUrl}/Patient/pat-0001`, {
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  const anonymous = await fetch(`${server.baseUrl}/Patient/pat-0001`);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get("www-authenticate")!, /^Bearer/);
  await anonymous.body?.cancel();
  const metadata = await fetch(`${server.baseUrl}/metadata`);
  assert.equal(metadata.status, 200, "metadata needs no token");
  await metadata.body?.cancel();
  const log = server.requests.find((r) => r.kind === "token")!;
  assert.match(log.body!, /client_assertion_type=urn%3Aietf/);
});

Deno.test("token endpoint rejects wrong kid, wrong aud, expired, far-future and replayed assertions", async () => {
  const rs = await makeClient("RS384", "rs-client");
  const other = await makeClient("RS384", "other-client");
  await using server = await FakeFhirServer.start({
    auth: { mode: "smart", clients: [rs.client, other.client] },
  });
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, Promise<string>, number, string, RegExp][] = [
    ["wrong kid", rs.assertion(server.tokenUrl, {}, { kid: "nope" }), 401, "invalid_client", /kid/],
    ["wrong aud", rs.assertion(`${server.baseUrl}/token`), 401, "invalid_client", /aud/],
    ["expired", rs.assertion(server.tokenUrl, { exp: now - 30 }), 401, "invalid_client", /expired/],
    [
      "far future",
      rs.assertion(server.tokenUrl, { exp: now + 3600 }),
      401,
      "invalid_client",
      /5 minutes/,
    ],
    [
      "unknown client",
      rs.assertion(server.tokenUrl, { iss: "who", sub: "who" }),
      401,
      "invalid_client",
      /who/,
    ],
    ["typ", rs.assertion(server.tokenUrl, {}, { typ: "at+jwt" }), 401, "invalid_client", /typ/],
    [
      "other client's key",
      other.assertion(server.tokenUrl, { iss: "rs-client", sub: "rs-client" }),
      401,
      "invalid_client",
      /kid/,
    ],
  ];
  for (const [name, assertion, status, error, pattern] of cases) {
    const { status: got, body } = await requestToken(server, await assertion);
    assert.equal(got, status, `${name}: ${JSON.stringify(body)}`);
    assert.equal(body.error, error, name);
    assert.match(String(body.error_description), pattern, name);
  }
  const once = await rs.assertion(server.tokenUrl);
  assert.equal((await requestToken(server, once)).status, 200);
  const replay = await requestToken(server, once);
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error, "invalid_grant");
});

Deno.test("tokens expire on the server clock; scope versions follow the options", async () => {
  const rs = await makeClient("RS384", "rs-client");
  let clock = Date.now();
  await using server = await FakeFhirServer.start({
    auth: { mode: "smart", clients: [rs.client] },
    scopeVersions: ["v2"],
    now: () => clock,
  });
  const v1 = await requestToken(server, await rs.assertion(server.tokenUrl), "system/Patient.read");
  assert.equal(v1.status, 400);
  assert.equal(v1.body.error, "invalid_scope");
  const { body } = await requestToken(
    server,
    await rs.assertion(server.tokenUrl),
    "system/Patient.rs system/Unheard.rs system/Observation.r",
  );
  assert.equal(body.expires_in, 300);
  const headers = { authorization: `Bearer ${body.access_token}` };
  const ok = await fetch(`${server.baseUrl}/Patient/pat-0001`, { headers });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  clock += 301_000;
  const expired = await fetch(`${server.baseUrl}/Patient/pat-0001`, { headers });
  assert.equal(expired.status, 401);
  assert.match(expired.headers.get("www-authenticate")!, /invalid_token/);
  await expired.body?.cancel();
});

Deno.test("fixture keys in testdata/keys sign assertions the server accepts", async () => {
  const dir = new URL("../../testdata/keys/", import.meta.url);
  const read = (name: string) => Deno.readTextFileSync(new URL(name, dir));
  const fixtures: [
    string,
    () => Promise<{ key: CryptoKey | Uint8Array; alg: string; kid: string }>,
  ][] = [
    ["rs384", () => fromJwks("rs384")],
    ["es384", () => fromJwks("es384")],
    ["rsa_pkcs8", () => fromPem("rsa_pkcs8", "RS384")],
    ["rsa_pkcs1", () => fromPem("rsa_pkcs1", "RS384")],
    ["ec_p384_sec1", () => fromPem("ec_p384_sec1", "ES384")],
  ];
  async function fromJwks(name: string) {
    const jwk = JSON.parse(read(`${name}.private.jwks.json`)).keys[0] as JWK;
    return { key: await importJWK(jwk, jwk.alg) as CryptoKey, alg: jwk.alg!, kid: jwk.kid! };
  }
  async function fromPem(name: string, alg: string) {
    const jwk = createPrivateKey(read(`${name}.pem`)).export({ format: "jwk" }) as JWK;
    const kid = JSON.parse(read(`${name}.public.jwks.json`)).keys[0].kid;
    return { key: await importJWK(jwk, alg) as CryptoKey, alg, kid };
  }
  await using server = await FakeFhirServer.start({
    auth: {
      mode: "smart",
      clients: fixtures.map(([name]) => ({
        clientId: name,
        jwks: JSON.parse(read(`${name}.public.jwks.json`)),
      })),
    },
  });
  for (const [name, load] of fixtures) {
    const { key, alg, kid } = await load();
    const assertion = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg, kid, typ: "JWT" })
      .setIssuer(name)
      .setSubject(name)
      .setAudience(server.tokenUrl)
      .setExpirationTime("4m")
      .sign(key);
    const { status, body } = await requestToken(server, assertion);
    assert.equal(status, 200, `${name}: ${JSON.stringify(body)}`);
  }
});

Deno.test("basic and static bearer modes check the Authorization header", async () => {
  await using basic = await FakeFhirServer.start({
    auth: { mode: "basic", user: "ana", password: "pässword" },
  });
  const good = `Basic ${Buffer.from("ana:pässword").toString("base64")}`;
  const ok = await fetch(`${basic.baseUrl}/Patient?_count=1`, { headers: { authorization: good } });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const bad = await fetch(`${basic.baseUrl}/Patient`, { headers: { authorization: "Basic eDp5" } });
  assert.equal(bad.status, 401);
  assert.match(bad.headers.get("www-authenticate")!, /^Basic/);
  await bad.body?.cancel();

  await using bearer = await FakeFhirServer.start({ auth: { mode: "bearer", token: "t0ken" } });
  const yes = await fetch(`${bearer.baseUrl}/Patient/pat-0001`, {
    headers: { authorization: "Bearer t0ken" },
  });
  assert.equal(yes.status, 200);
  await yes.body?.cancel();
  const no = await fetch(`${bearer.baseUrl}/Patient/pat-0001`, {
    headers: { authorization: "Bearer nope" },
  });
  assert.equal(no.status, 401);
  await no.body?.cancel();
});
