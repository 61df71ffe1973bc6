/** Loading the private key for SMART Backend Services: a JWKS, a single JWK, or a PEM. */

import { createPrivateKey } from "node:crypto";
import * as jose from "jose";
import { ConfigError } from "../errors.ts";

/** A key ready to sign client assertions. */
export interface SigningKey {
  /** The key itself. */
  key: CryptoKey;
  /** The JWS algorithm: RS384 for RSA; ES256/ES384/ES512 for EC P-256/P-384/P-521. */
  alg: string;
  /** The key id sent in the JWT header. */
  kid: string;
}

const SUPPORTED_ALGS = new Set(["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]);
const EC_ALGS: Record<string, string> = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" };

/** The algorithm for a JWK: its own `alg` if we support it, else RS384 / ES256-512 by curve. */
function algFor(jwk: jose.JWK, where: string): string {
  if (jwk.alg) {
    if (!SUPPORTED_ALGS.has(jwk.alg)) {
      throw new ConfigError(
        `The key in ${where} has alg ${jwk.alg}; use an RSA (RS384) or EC (ES256/ES384/ES512) key.`,
      );
    }
    return jwk.alg;
  }
  if (jwk.kty === "RSA") return "RS384";
  if (jwk.kty === "EC" && jwk.crv && EC_ALGS[jwk.crv]) return EC_ALGS[jwk.crv]!;
  throw new ConfigError(
    `The key in ${where} is ${jwk.kty ?? "of unknown type"}${
      jwk.crv ? ` ${jwk.crv}` : ""
    }; use an RSA key or an EC key on P-256, P-384 or P-521.`,
  );
}

/** True when a JWK holds a private key that may sign. */
function canSign(jwk: jose.JWK): boolean {
  if (!jwk.d) return false;
  if (jwk.key_ops && !jwk.key_ops.includes("sign")) return false;
  if (jwk.use && jwk.use !== "sig") return false;
  return true;
}

async function fromJwk(jwk: jose.JWK, where: string, kid: string | undefined): Promise<SigningKey> {
  const alg = algFor(jwk, where);
  const { key_ops: _ops, use: _use, ...bare } = jwk;
  let key: CryptoKey;
  try {
    key = await jose.importJWK({ ...bare, alg }, alg) as CryptoKey;
  } catch (err) {
    throw new ConfigError(`Cannot use the key in ${where}: ${(err as Error).message}`);
  }
  return { key, alg, kid: kid ?? jwk.kid ?? await jose.calculateJwkThumbprint(jwk) };
}

/**
 * Loads the signing key from `spec`: a path to a JWKS / JWK / PEM file, or literal JWKS/JWK JSON.
 * From a JWKS, the first private key that may sign is used. A PEM (PKCS#8, PKCS#1 RSA or SEC1 EC)
 * gets the RFC 7638 thumbprint as its `kid` unless `kid` is given (`--smart-key-id`).
 */
export async function loadSigningKey(spec: string, kid?: string): Promise<SigningKey> {
  let text: string;
  let where: string;
  if (spec.trimStart().startsWith("{")) {
    text = spec;
    where = "the --smart-key JSON";
  } else {
    where = `"${spec}"`;
    try {
      text = await Deno.readTextFile(spec);
    } catch (err) {
      throw new ConfigError(
        `Cannot read the key file ${where} given to --smart-key: ${(err as Error).message}`,
      );
    }
  }
  const trimmed = text.trim();
  if (trimmed.startsWith("-----BEGIN")) {
    let jwk: jose.JWK;
    try {
      jwk = createPrivateKey(trimmed).export({ format: "jwk" }) as jose.JWK;
    } catch (err) {
      throw new ConfigError(
        `The key file ${where} is not a private key PEM (${
          (err as Error).message
        }). Give the private key, not the public one.`,
      );
    }
    return fromJwk(jwk, where, kid);
  }
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    throw new ConfigError(
      `The key file ${where} is neither JSON (JWKS or JWK) nor PEM. Give a .jwks, .jwk or .pem private key.`,
    );
  }
  const keys: jose.JWK[] =
    json && typeof json === "object" && Array.isArray((json as jose.JSONWebKeySet).keys)
      ? (json as jose.JSONWebKeySet).keys as jose.JWK[]
      : [json as jose.JWK];
  const usable = keys.find((k) => k && typeof k === "object" && canSign(k));
  if (!usable) {
    throw new ConfigError(
      `The key file ${where} holds no private key that may sign. Give the private JWKS (with "d"), not the public one.`,
    );
  }
  return fromJwk(usable, where, kid);
}
