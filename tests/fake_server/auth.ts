/**
 * Checking the Authorization header of FHIR requests, per auth mode, and the access tokens the
 * token endpoint issued (which really expire on the server clock).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Config } from "./config.ts";
import type { Reply } from "./http1.ts";
import { outcome } from "./reply.ts";

interface IssuedToken {
  clientId: string;
  scope: string;
  expiresAt: number;
}

/** Issues and checks credentials. */
export class AuthGate {
  readonly #tokens = new Map<string, IssuedToken>();
  constructor(private readonly config: Config) {}

  /** Whether FHIR requests need credentials at all. */
  get enabled(): boolean {
    return this.config.auth.mode !== "none";
  }

  /** Issues an access token valid for the configured lifetime from now. */
  issue(clientId: string, scope: string): { token: string; expiresIn: number } {
    const token = `fake-${crypto.randomUUID()}`;
    const expiresIn = this.config.tokenLifetimeSeconds;
    this.#tokens.set(token, {
      clientId,
      scope,
      expiresAt: this.config.now() + expiresIn * 1000,
    });
    return { token, expiresIn };
  }

  /** Undefined when the request may proceed, else the 401 reply to send. */
  check(headers: Record<string, string>): Reply | undefined {
    const auth = this.config.auth;
    if (auth.mode === "none") return undefined;
    const header = headers["authorization"] ?? "";
    if (auth.mode === "basic") {
      const expected = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString("base64")}`;
      if (header === expected) return undefined;
      return unauthorized(
        header ? "Wrong user or password" : "Authentication required",
        'Basic realm="fake-fhir", charset="UTF-8"',
      );
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      return unauthorized("A bearer access token is required", 'Bearer realm="fake-fhir"');
    }
    const token = match[1]!;
    if (auth.mode === "bearer") {
      if (token === auth.token) return undefined;
      return invalidToken("The access token is not valid");
    }
    const issued = this.#tokens.get(token);
    if (!issued) return invalidToken("The access token is not valid");
    if (issued.expiresAt <= this.config.now()) return invalidToken("The access token expired");
    return undefined;
  }
}

function unauthorized(message: string, challenge: string): Reply {
  return outcome(401, "login", message, { "www-authenticate": challenge });
}

function invalidToken(message: string): Reply {
  return unauthorized(
    message,
    `Bearer realm="fake-fhir", error="invalid_token", error_description="${message}"`,
  );
}
