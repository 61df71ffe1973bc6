/** SMART Backend Services: a signed JWT assertion traded for a short-lived access token. */

import * as jose from "jose";
import { z } from "zod";
import type { Clock } from "../clock.ts";
import { AuthError, ServerError, TransientError } from "../errors.ts";
import { bodyText } from "../fhir/operation_outcome.ts";
import type { HttpClient } from "../http/client.ts";
import type { Authorizer } from "../http/types.ts";
import type { SigningKey } from "./keys.ts";

const tokenResponse = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.coerce.number().positive().optional(),
});

/** Assumed token life when the server does not say (the spec's maximum). */
const DEFAULT_LIFETIME_S = 300;

/** Options for {@linkcode SmartAuth}. */
export interface SmartAuthOptions {
  /** The client used for token requests (they never carry Authorization). */
  http: HttpClient;
  clientId: string;
  key: SigningKey;
  /** The token endpoint. */
  tokenUrl: string;
  /** Space-separated scopes. */
  scope: string;
  clock: Clock;
}

/**
 * Gets tokens and refreshes them BEFORE they expire (a fifth of their life ahead, at most a
 * minute), so a multi-day export never sends a stale one; a 401 still forces a refresh. Token
 * requests are single-flight: concurrent downloads share one.
 */
export class SmartAuth implements Authorizer {
  readonly active = true;
  #token: { value: string; refreshAt: number } | undefined;
  #pending: Promise<string> | undefined;
  #hadToken = false;
  /** Number of tokens obtained (for progress and tests). */
  tokensIssued = 0;

  constructor(private readonly options: SmartAuthOptions) {}

  async headers(): Promise<Record<string, string>> {
    return { Authorization: `Bearer ${await this.#current()}` };
  }

  invalidate(): void {
    this.#token = undefined;
  }

  #current(): Promise<string> {
    const now = this.options.clock.now();
    if (this.#token && now < this.#token.refreshAt) return Promise.resolve(this.#token.value);
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #assertion(): Promise<string> {
    const { clientId, key, tokenUrl, clock } = this.options;
    const nowS = Math.floor(clock.now() / 1000);
    return await new jose.SignJWT({})
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(tokenUrl)
      .setExpirationTime(nowS + 290)
      .setJti(crypto.randomUUID())
      .sign(key.key);
  }

  async #fetch(): Promise<string> {
    const { http, tokenUrl, scope, clock } = this.options;
    const started = clock.now();
    let result: { status: number; body: unknown };
    try {
      result = await http.request(tokenUrl, {
        method: "POST",
        auth: false,
        // Requests holding every connection wait for this token: it must not wait for them.
        uncapped: true,
        headers: {
          "Accept": "application/json",
          "Content-Type": "application/x-www-form-urlencoded",
        },
        // A fresh assertion (and jti) for every try: servers reject a replayed jti.
        body: async () =>
          new URLSearchParams({
            grant_type: "client_credentials",
            scope,
            client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            client_assertion: await this.#assertion(),
          }),
        // Epic's token endpoint sometimes answers a flaky 400 when re-authorizing.
        retryStatuses: this.#hadToken ? [400] : [],
        retry: { maxAttempts: 5, deadlineMs: 240_000 },
      }, async (res) => ({ status: res.status, body: await res.json().catch(() => null) }));
    } catch (err) {
      if (err instanceof ServerError) {
        throw new AuthError(
          `Could not authenticate with ${tokenUrl} (HTTP ${err.status}): ${
            bodyText(err.body) || "no reason given"
          }. Check --smart-client-id, --smart-key and that the public key is registered with the server.`,
        );
      }
      if (err instanceof TransientError) {
        throw new AuthError(`Could not reach the token endpoint ${tokenUrl}: ${err.message}`);
      }
      throw err;
    }
    const parsed = tokenResponse.safeParse(result.body);
    if (!parsed.success) {
      throw new AuthError(`The token endpoint ${tokenUrl} answered without an access_token.`);
    }
    const lifetimeMs = (parsed.data.expires_in ?? DEFAULT_LIFETIME_S) * 1000;
    const margin = Math.min(60_000, lifetimeMs / 5);
    this.#token = { value: parsed.data.access_token, refreshAt: started + lifetimeMs - margin };
    this.#hadToken = true;
    this.tokensIssued++;
    return parsed.data.access_token;
  }
}
