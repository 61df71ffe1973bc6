/**
 * The SMART Backend Services token endpoint (`POST /auth/token`): verifies the client's signed
 * JWT assertion for real, with jose, against the registered public JWKS.
 *
 * @module
 */

import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  jwtVerify,
  type ProtectedHeaderParameters,
} from "jose";
import type { AuthGate } from "./auth.ts";
import type { Config } from "./config.ts";
import type { RawRequest, Reply } from "./http1.ts";
import { json, oauthError } from "./reply.ts";

/** The assertion type SMART Backend Services requires. */
export const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Signing algorithms accepted (SMART requires RS384 and ES384 support). */
export const ALGORITHMS = ["RS384", "ES384", "ES256", "ES512"];
const MAX_EXP_AHEAD_SECONDS = 300 + 60;

const V1_SCOPE = /^system\/(\*|[A-Z][A-Za-z]*)\.(read|write|\*)$/;
const V2_SCOPE = /^system\/(\*|[A-Z][A-Za-z]*)\.(?=[cruds])c?r?u?d?s?(\?\S*)?$/;

/** Handles token requests; remembers every `jti` it accepted, to refuse replays. */
export class TokenEndpoint {
  readonly #seenJti = new Set<string>();
  constructor(
    private readonly config: Config,
    private readonly gate: AuthGate,
    private readonly tokenUrl: string,
  ) {}

  /** Answers one token request. */
  async handle(request: RawRequest): Promise<Reply> {
    if (request.method !== "POST") {
      return oauthError(405, "invalid_request", "The token endpoint only accepts POST");
    }
    const contentType = request.headers["content-type"] ?? "";
    if (!contentType.startsWith("application/x-www-form-urlencoded")) {
      return oauthError(400, "invalid_request", `Expected a form body, got "${contentType}"`);
    }
    const form = new URLSearchParams(new TextDecoder().decode(request.body));
    const grantType = form.get("grant_type");
    if (grantType !== "client_credentials") {
      return oauthError(
        400,
        "unsupported_grant_type",
        `grant_type "${grantType}" is not supported`,
      );
    }
    if (form.get("client_assertion_type") !== JWT_BEARER) {
      return oauthError(400, "invalid_request", `client_assertion_type must be ${JWT_BEARER}`);
    }
    const assertion = form.get("client_assertion");
    if (!assertion) return oauthError(400, "invalid_request", "client_assertion is missing");

    let header: ProtectedHeaderParameters;
    let clientId: unknown;
    try {
      header = decodeProtectedHeader(assertion);
      clientId = decodeJwt(assertion).iss;
    } catch (err) {
      return oauthError(400, "invalid_request", `client_assertion is not a JWT: ${message(err)}`);
    }
    const auth = this.config.auth;
    const client = auth.mode === "smart"
      ? auth.clients.find((c) => c.clientId === clientId)
      : undefined;
    if (!client) return oauthError(401, "invalid_client", `Unknown client "${clientId}"`);
    if (typeof header.kid !== "string") {
      return oauthError(401, "invalid_client", "The JWT header has no kid");
    }
    if (!client.jwks.keys.some((key) => (key as { kid?: string }).kid === header.kid)) {
      return oauthError(401, "invalid_client", `No registered key has kid "${header.kid}"`);
    }
    if (!ALGORITHMS.includes(String(header.alg))) {
      return oauthError(401, "invalid_client", `Signing algorithm "${header.alg}" is not accepted`);
    }

    const now = this.config.now();
    let payload;
    try {
      ({ payload } = await jwtVerify(
        assertion,
        createLocalJWKSet(client.jwks as JSONWebKeySet),
        {
          algorithms: ALGORITHMS,
          typ: "JWT",
          issuer: client.clientId,
          subject: client.clientId,
          audience: this.tokenUrl,
          currentDate: new Date(now),
          requiredClaims: ["exp", "jti"],
        },
      ));
    } catch (err) {
      const detail = err instanceof errors.JWTExpired
        ? "The client assertion has expired"
        : `The client assertion was rejected: ${message(err)}`;
      return oauthError(401, "invalid_client", detail);
    }
    if ((payload.exp ?? 0) > now / 1000 + MAX_EXP_AHEAD_SECONDS) {
      return oauthError(401, "invalid_client", "exp is more than 5 minutes in the future");
    }
    const jti = String(payload.jti);
    if (this.#seenJti.has(jti)) {
      return oauthError(400, "invalid_grant", `The jti "${jti}" was already used`);
    }
    this.#seenJti.add(jti);

    const scope = (form.get("scope") ?? "").trim();
    const bad = this.#badScope(scope);
    if (bad !== undefined) return oauthError(400, "invalid_scope", bad);
    const { token, expiresIn } = this.gate.issue(client.clientId, scope);
    return json(
      200,
      { access_token: token, token_type: "bearer", expires_in: expiresIn, scope },
      { "cache-control": "no-store", pragma: "no-cache" },
      "application/json",
    );
  }

  /** Why the requested scope is refused, or undefined when it is fine. */
  #badScope(scope: string): string | undefined {
    if (scope === "") return "No scope was requested";
    const versions = this.config.scopeVersions;
    for (const item of scope.split(/\s+/)) {
      if (V1_SCOPE.test(item)) {
        if (!versions.includes("v1")) return `SMART v1 scope "${item}" is not supported; use v2`;
      } else if (V2_SCOPE.test(item)) {
        if (!versions.includes("v2")) return `SMART v2 scope "${item}" is not supported; use v1`;
      } else {
        return `Scope "${item}" is not a system scope this server grants`;
      }
    }
    return undefined;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
