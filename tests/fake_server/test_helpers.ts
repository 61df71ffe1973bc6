/**
 * Helpers for the fake server's own tests: kick-off and polling with real `fetch`, NDJSON
 * reading, and SMART clients with freshly generated keys.
 *
 * @module
 */

import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import type { FakeFhirServer } from "./server.ts";
import type { SmartClient } from "./types.ts";

/** Kick-off headers every real client sends. */
export const ASYNC_HEADERS = { prefer: "respond-async", accept: "application/fhir+json" };

/** The export manifest, as the tests read it. */
export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: { type: string; url: string; count: number }[];
  error: { type: string; url: string }[];
  deleted?: { type: string; url: string }[];
  link?: { relation: string; url: string }[];
}

/** Kicks off an export (GET unless a body is given) and returns the status URL. */
export async function kickoff(
  url: string,
  init: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<string> {
  const res = await fetch(url, {
    method: init.body === undefined ? "GET" : "POST",
    headers: { ...ASYNC_HEADERS, "content-type": "application/fhir+json", ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  assert.equal(res.status, 202, `kick-off ${url} answered ${res.status}: ${text}`);
  const location = res.headers.get("content-location");
  assert.ok(location, "202 without Content-Location");
  return location;
}

/** Polls a status URL until 200 and returns the manifest (202s are not waited on). */
export async function manifestOf(
  statusUrl: string,
  headers: Record<string, string> = {},
): Promise<Manifest> {
  for (let i = 0; i < 20; i++) {
    const res = await fetch(statusUrl, { headers: { accept: "application/json", ...headers } });
    const text = await res.text();
    if (res.status === 200) return JSON.parse(text);
    assert.equal(res.status, 202, `status ${statusUrl} answered ${res.status}: ${text}`);
  }
  throw new Error("export never finished");
}

/** Kick-off, then the manifest. */
export async function exportManifest(
  url: string,
  init: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Manifest> {
  return await manifestOf(await kickoff(url, init), init.headers);
}

/** Downloads an NDJSON file and parses its lines. */
export async function ndjson(
  url: string,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>[]> {
  const res = await fetch(url, { headers: { accept: "application/fhir+ndjson", ...headers } });
  const text = await res.text();
  assert.equal(res.status, 200, `file ${url} answered ${res.status}: ${text}`);
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

/** Every resource of a manifest's outputs of one type. */
export async function exportedOf(
  manifest: Manifest,
  type: string,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>[]> {
  const files = manifest.output.filter((o) => o.type === type);
  return (await Promise.all(files.map((o) => ndjson(o.url, headers)))).flat();
}

/** A SMART client with a fresh key pair. */
export interface TestClient {
  /** What to register with the server. */
  client: SmartClient;
  /** Signs an assertion for `tokenUrl`; `claims` and `header` override the defaults. */
  assertion(
    tokenUrl: string,
    claims?: JWTPayload,
    header?: Record<string, unknown>,
  ): Promise<string>;
}

/** Makes a client with a new RS384 or ES384 key. */
export async function makeClient(alg: "RS384" | "ES384", clientId: string): Promise<TestClient> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${clientId}-${alg.toLowerCase()}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg };
  return {
    client: { clientId, jwks: { keys: [jwk as JsonWebKey] } },
    assertion: (tokenUrl, claims = {}, header = {}) => {
      const now = Math.floor(Date.now() / 1000);
      const payload = {
        iss: clientId,
        sub: clientId,
        aud: tokenUrl,
        jti: crypto.randomUUID(),
        exp: now + 240,
      };
      return new SignJWT({ ...payload, ...claims })
        .setProtectedHeader({ alg, kid, typ: "JWT", ...header })
        .sign(privateKey);
    },
  };
}

/** POSTs a token request; returns status and parsed JSON body. */
export async function requestToken(
  server: FakeFhirServer,
  assertion: string,
  scope = "system/Patient.read system/Observation.read",
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(server.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      scope,
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: assertion,
    }),
  });
  return { status: res.status, body: await res.json() };
}
