/** Picks and builds the authentication strategy from the auth flags. */

import type { Clock } from "../clock.ts";
import { AuthError, ServerError, TransientError, UsageError } from "../errors.ts";
import type { Capabilities } from "../fhir/capability.ts";
import { ALL_KNOWN_TYPES } from "../fhir/resource_types.ts";
import type { HttpClient } from "../http/client.ts";
import { type Authorizer, NO_AUTH } from "../http/types.ts";
import { loadSigningKey } from "./keys.ts";
import { resolveSecret } from "./secrets.ts";
import { SmartAuth } from "./smart.ts";
import { basicAuth, bearerAuth } from "./static_auth.ts";

/** The auth flags, as given (secrets may still be file paths). */
export interface AuthOptions {
  smartClientId?: string | undefined;
  smartKey?: string | undefined;
  smartKeyId?: string | undefined;
  basicUser?: string | undefined;
  basicPasswd?: string | undefined;
  bearerToken?: string | undefined;
  tokenUrl?: string | undefined;
}

/** Which strategy the flags select; throws a UsageError for contradictory flags. */
export function authKind(options: AuthOptions): "none" | "smart" | "basic" | "bearer" {
  const smart = options.smartClientId !== undefined || options.smartKey !== undefined;
  const basic = options.basicUser !== undefined || options.basicPasswd !== undefined;
  const bearer = options.bearerToken !== undefined;
  if ([smart, basic, bearer].filter(Boolean).length > 1) {
    throw new UsageError(
      "Multiple authentication methods were given. Use only one of: --smart-client-id with --smart-key, --basic-user with --basic-passwd, or --bearer-token.",
    );
  }
  if (smart && (!options.smartClientId || !options.smartKey)) {
    throw new UsageError(
      options.smartClientId
        ? "--smart-client-id was given without --smart-key. Give both."
        : "--smart-key was given without --smart-client-id. Give both.",
    );
  }
  if (basic && (!options.basicUser || !options.basicPasswd)) {
    throw new UsageError(
      options.basicUser
        ? "--basic-user was given without --basic-passwd. Give both."
        : "--basic-passwd was given without --basic-user. Give both.",
    );
  }
  return smart ? "smart" : basic ? "basic" : bearer ? "bearer" : "none";
}

/** What the server's `.well-known/smart-configuration` tells us. */
interface SmartConfiguration {
  tokenUrl: string | undefined;
  /** SMART v2 scopes: the server lists permission-v2 but not permission-v1. */
  v2: boolean;
}

async function smartConfiguration(http: HttpClient): Promise<SmartConfiguration> {
  try {
    const { body } = await http.json(`${http.baseUrl}/.well-known/smart-configuration`, {
      auth: false,
      headers: { Accept: "application/json" },
      retry: { maxAttempts: 3 },
    });
    const config = (body && typeof body === "object" ? body : {}) as {
      token_endpoint?: unknown;
      capabilities?: unknown;
    };
    const caps = Array.isArray(config.capabilities) ? config.capabilities : [];
    return {
      tokenUrl: typeof config.token_endpoint === "string" ? config.token_endpoint : undefined,
      v2: caps.includes("permission-v2") && !caps.includes("permission-v1"),
    };
  } catch (err) {
    if (err instanceof ServerError || err instanceof TransientError) {
      return { tokenUrl: undefined, v2: false };
    }
    throw err;
  }
}

/** Scopes for every type we may read, limited to those the server lists. */
export function scopesFor(caps: Capabilities, v2: boolean): string {
  return ALL_KNOWN_TYPES.filter((t) => caps.supportsType(t))
    .map((t) => `system/${t}.${v2 ? "rs" : "read"}`)
    .join(" ");
}

/** Options for {@linkcode createAuthorizer}. */
export interface CreateAuthOptions {
  http: HttpClient;
  capabilities: Capabilities;
  clock: Clock;
}

/**
 * Builds the Authorizer for the flags. For SMART, finds the token endpoint (`--token-url`, then
 * `.well-known/smart-configuration`, then the CapabilityStatement's oauth-uris) and the scope
 * version, and loads the key, so configuration mistakes surface before any export starts.
 */
export async function createAuthorizer(
  options: AuthOptions,
  deps: CreateAuthOptions,
): Promise<Authorizer> {
  switch (authKind(options)) {
    case "none":
      return NO_AUTH;
    case "basic":
      return basicAuth(
        options.basicUser!,
        resolveSecret(options.basicPasswd!, "--basic-passwd"),
      );
    case "bearer":
      return bearerAuth(resolveSecret(options.bearerToken!, "--bearer-token"));
    case "smart": {
      const clientId = resolveSecret(options.smartClientId!, "--smart-client-id");
      const key = await loadSigningKey(options.smartKey!, options.smartKeyId);
      const config = await smartConfiguration(deps.http);
      const tokenUrl = options.tokenUrl ?? config.tokenUrl ?? deps.capabilities.tokenUrl ??
        undefined;
      if (!tokenUrl) {
        throw new AuthError(
          `The server ${deps.http.baseUrl} does not advertise an OAuth token endpoint. Give it with --token-url.`,
        );
      }
      return new SmartAuth({
        http: deps.http,
        clientId,
        key,
        tokenUrl: deps.http.resolve(tokenUrl),
        scope: scopesFor(deps.capabilities, config.v2),
        clock: deps.clock,
      });
    }
  }
}

/** The client id to send as `Epic-Client-ID` (SMART client id), if any. */
export function clientIdFor(options: AuthOptions): string | undefined {
  return options.smartClientId === undefined
    ? undefined
    : resolveSecret(options.smartClientId, "--smart-client-id");
}
