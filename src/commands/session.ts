/** What every command that talks to a server sets up first: client, capabilities, auth. */

import { type AuthOptions, clientIdFor, createAuthorizer } from "../auth/mod.ts";
import type { Clock } from "../clock.ts";
import { AuthError, ServerError, SmartFetchError, TransientError, UsageError } from "../errors.ts";
import { Capabilities } from "../fhir/capability.ts";
import { HttpClient } from "../http/client.ts";
import { shortUrl } from "../http/short_url.ts";
import { Messages, type Reporter } from "../log/events.ts";

/** Flags every server command has. */
export interface ServerFlags extends AuthOptions {
  fhirUrl?: string | undefined;
  maxConnections: number;
  /** `--max-requests-per-second`, when given. */
  maxRequestsPerSecond?: number | undefined;
  requestTimeout: number;
  maxRetryWait: number;
  bulkSmartClientId?: string | undefined;
  bulkSmartKey?: string | undefined;
  /** Show every request (not built otherwise: a line per request costs on a crawl). */
  verbose?: boolean | undefined;
}

/** A connected server. */
export interface Session {
  http: HttpClient;
  capabilities: Capabilities;
}

/** Options for {@linkcode openSession}. */
export interface SessionContext {
  clock: Clock;
  reporter: Reporter;
  signal?: AbortSignal | undefined;
  /** Use the bulk credentials (`--bulk-smart-*`) when given. */
  bulk: boolean;
}

/** The base URL from `--fhir-url`, checked. */
export function checkFhirUrl(value: string | undefined): string {
  if (!value) throw new UsageError("--fhir-url is required (the FHIR server's base URL).");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `--fhir-url "${value}" is not a URL. Give the server's base URL, such as https://ehr.example.org/fhir.`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--fhir-url "${value}" must start with https:// or http://.`);
  }
  if (url.username || url.password) {
    throw new UsageError(
      "--fhir-url must not hold a user or password; use --basic-user and --basic-passwd.",
    );
  }
  return value.replace(/\/+$/, "");
}

/** Picks the bulk credentials when asked and given, else the REST ones. */
function credentials(flags: ServerFlags, bulk: boolean): AuthOptions {
  const useBulk = bulk &&
    (flags.bulkSmartClientId !== undefined || flags.bulkSmartKey !== undefined);
  return {
    smartClientId: useBulk ? flags.bulkSmartClientId ?? flags.smartClientId : flags.smartClientId,
    smartKey: useBulk ? flags.bulkSmartKey ?? flags.smartKey : flags.smartKey,
    smartKeyId: flags.smartKeyId,
    basicUser: flags.basicUser,
    basicPasswd: flags.basicPasswd,
    bearerToken: flags.bearerToken,
    tokenUrl: flags.tokenUrl,
  };
}

/** Why a `/metadata` answer is not a CapabilityStatement, or undefined when it is one. */
function notCapability(
  status: number,
  headers: Headers | undefined,
  body: unknown,
): string | undefined {
  const type = headers?.get("content-type") ?? "";
  const html = /html/i.test(type) ||
    (typeof body === "string" && /^\s*<(!doctype|html)/i.test(body));
  if (status >= 200 && status < 300) {
    if (html) return "an HTML page";
    if (body && typeof body === "object" && !Array.isArray(body)) {
      const rt = (body as { resourceType?: unknown }).resourceType;
      if (rt === "CapabilityStatement") return undefined;
      return typeof rt === "string" ? `a ${rt}` : "JSON that is not FHIR";
    }
    return "something that is not JSON";
  }
  return `HTTP ${status}${html ? " with an HTML page" : ""}`;
}

async function fetchCapabilities(
  http: HttpClient,
  auth: boolean,
): Promise<Capabilities | "unauthorized"> {
  const url = `${http.baseUrl}/metadata`;
  let res: { status: number; headers: Headers | undefined; body: unknown };
  try {
    res = await http.json(url, {
      auth,
      headers: { Accept: "application/fhir+json, application/json" },
      acceptStatuses: [401, 403],
      retry: { maxAttempts: 4, deadlineMs: 120_000 },
    });
  } catch (err) {
    if (err instanceof TransientError) {
      throw new SmartFetchError(
        `Cannot reach the FHIR server at ${http.baseUrl}: ${err.message}. Check --fhir-url and the network; rerun to try again.`,
        { cause: err },
      );
    }
    if (!(err instanceof ServerError) || err.status === undefined) throw err;
    res = { status: err.status, headers: new Headers(err.headers ?? {}), body: err.body };
  }
  if (res.status === 401 || res.status === 403) return "unauthorized";
  // Prove it is a FHIR server before anything is written: a login portal, a wrong base path
  // or a web server's 404 page must not start an export.
  const wrong = notCapability(res.status, res.headers, res.body);
  if (wrong) {
    throw new UsageError(
      `${url} answered ${wrong}, not a FHIR CapabilityStatement: check --fhir-url`,
    );
  }
  return new Capabilities(res.body);
}

/**
 * Connects: reads the CapabilityStatement (without credentials, as servers publish it openly;
 * again with them if refused), sets up authentication, and adds Epic's `Epic-Client-ID`.
 */
export async function openSession(flags: ServerFlags, context: SessionContext): Promise<Session> {
  const baseUrl = checkFhirUrl(flags.fhirUrl);
  const say = new Messages(context.reporter);
  const http = new HttpClient({
    baseUrl,
    clock: context.clock,
    maxConnections: flags.maxConnections,
    maxRequestsPerSecond: flags.maxRequestsPerSecond,
    requestTimeoutMs: flags.requestTimeout,
    maxRetryAfterMs: flags.maxRetryWait,
    signal: context.signal,
    onEvent: (event) => {
      if (event.type === "retry") {
        context.reporter.emit({
          type: "retry",
          what: `${event.method} ${shortUrl(event.url)}`,
          attempt: event.attempt,
          delayMs: event.delayMs,
          reason: event.reason,
        });
      } else if (event.type === "request") {
        if (flags.verbose) say.verbose(`${event.method} ${event.url} -> ${event.status}`);
      } else if (event.type === "reauthorize") {
        say.verbose(`Access refused (401); getting a new token and trying once more.`);
      } else if (event.type === "unreachable" || event.type === "reachable") {
        context.reporter.emit(event);
      }
    },
  });
  context.reporter.emit({ type: "phase", phase: "connecting", detail: baseUrl });
  const creds = credentials(flags, context.bulk);
  let caps = await fetchCapabilities(http, false);
  const provisional = caps === "unauthorized" ? new Capabilities(null) : caps;
  const auth = await createAuthorizer(creds, {
    http,
    capabilities: provisional,
    clock: context.clock,
  });
  http.setAuth(auth);
  if (caps === "unauthorized") {
    if (!auth.active) {
      throw new AuthError(
        `The server ${baseUrl} needs authentication. Give --smart-client-id and --smart-key, --basic-user and --basic-passwd, or --bearer-token.`,
      );
    }
    caps = await fetchCapabilities(http, true);
    if (caps === "unauthorized") {
      throw new AuthError(
        `The server ${baseUrl} refused our credentials when reading its CapabilityStatement.`,
      );
    }
  }
  const clientId = clientIdFor(creds);
  if (caps.kind === "epic" && clientId) http.setHeader("Epic-Client-ID", clientId);
  return { http, capabilities: caps };
}
