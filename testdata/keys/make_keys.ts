/**
 * Regenerates the fixture keys in this folder (run from the repository root):
 *
 *     deno run -A testdata/keys/make_keys.ts
 *
 * PEM files come from `openssl`; JWKS files are derived with node:crypto, and every `kid` of a
 * PEM key is its RFC 7638 thumbprint (what clients derive when no kid is given).
 *
 * @module
 */

import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, type JWK } from "jose";

const dir = new URL(".", import.meta.url).pathname;

function openssl(...args: string[]): void {
  const { success, stderr } = new Deno.Command("openssl", { args, cwd: dir }).outputSync();
  if (!success) throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
}

async function jwk(key: KeyObject, alg: string, kid?: string): Promise<JWK> {
  const exported = key.export({ format: "jwk" }) as JWK;
  const publicJwk = createPublicKey(key).export({ format: "jwk" }) as JWK;
  return { ...exported, kid: kid ?? await calculateJwkThumbprint(publicJwk), alg };
}

function publicOnly(key: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, key_ops: _ops, ...rest } = key;
  return { ...rest, key_ops: ["verify"] };
}

async function writeJwks(name: string, key: JWK, withPrivate: boolean): Promise<void> {
  const write = (file: string, keys: JWK[]) =>
    Deno.writeTextFile(`${dir}${file}`, JSON.stringify({ keys }, null, 2) + "\n");
  if (withPrivate) await write(`${name}.private.jwks.json`, [{ ...key, key_ops: ["sign"] }]);
  await write(`${name}.public.jwks.json`, [publicOnly(key)]);
}

openssl(
  "genpkey",
  "-algorithm",
  "RSA",
  "-pkeyopt",
  "rsa_keygen_bits:2048",
  "-out",
  "rsa_pkcs8.pem",
);
openssl("genrsa", "-traditional", "-out", "rsa_pkcs1.pem", "2048");
openssl("ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "ec_p384_sec1.pem");
openssl(
  "genpkey",
  "-algorithm",
  "RSA",
  "-pkeyopt",
  "rsa_keygen_bits:2048",
  "-out",
  "rs384.tmp.pem",
);
openssl(
  "genpkey",
  "-algorithm",
  "EC",
  "-pkeyopt",
  "ec_paramgen_curve:P-384",
  "-out",
  "es384.tmp.pem",
);

const pem = (file: string) => createPrivateKey(Deno.readTextFileSync(`${dir}${file}`));
await writeJwks("rs384", await jwk(pem("rs384.tmp.pem"), "RS384", "fixture-rs384"), true);
await writeJwks("es384", await jwk(pem("es384.tmp.pem"), "ES384", "fixture-es384"), true);
await writeJwks("rsa_pkcs8", await jwk(pem("rsa_pkcs8.pem"), "RS384"), false);
await writeJwks("rsa_pkcs1", await jwk(pem("rsa_pkcs1.pem"), "RS384"), false);
await writeJwks("ec_p384_sec1", await jwk(pem("ec_p384_sec1.pem"), "ES384"), false);
for (const file of ["rsa_pkcs8.pem", "rsa_pkcs1.pem", "ec_p384_sec1.pem"]) {
  Deno.chmodSync(`${dir}${file}`, 0o644);
}
Deno.removeSync(`${dir}rs384.tmp.pem`);
Deno.removeSync(`${dir}es384.tmp.pem`);
