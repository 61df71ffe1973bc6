/**
 * `smart-fetch single PATH`: GET one path relative to the FHIR base (a read such as
 * `Patient/123`, or a search such as `Observation?patient=123`) and print what came back.
 */

import { ExitCode, InternalError, RefusedError, ServerError, UsageError } from "../errors.ts";
import { Messages } from "../log/events.ts";
import type { CommandContext } from "./bulk_run.ts";
import { checkFhirUrl, openSession, type ServerFlags } from "./session.ts";

/** The flags of `single`. */
export interface SingleFlags extends ServerFlags {
  /** Print the JSON on one line, without whitespace. */
  compact?: boolean | undefined;
  /** Print the decoded `data` of a Binary resource as raw bytes. */
  binary?: boolean | undefined;
}

const fromBase64 = (Uint8Array as unknown as { fromBase64(text: string): Uint8Array }).fromBase64;

/**
 * The URL to GET for `path`, which must stay under `baseUrl`: `Patient/1`, `/Patient/1` and
 * `Patient?active=true` are relative to it; an absolute URL is accepted only when it is under it
 * (a `next` link copied from a search Bundle), so credentials never go to another server.
 */
export function singleUrl(baseUrl: string, path: string): string {
  const base = baseUrl.replace(/\/+$/, "") + "/";
  const given = path.trim();
  if (!given) {
    throw new UsageError(
      "Give the path to read, relative to --fhir-url, for example: smart-fetch single --fhir-url URL Patient/123",
    );
  }
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(given) || given.startsWith("//");
  // `/Patient/1` means the same as `Patient/1`: the base keeps its own path.
  const url = new URL(absolute ? given : given.replace(/^\/+/, ""), base);
  if (!url.href.startsWith(base)) {
    throw new UsageError(
      absolute
        ? `"${given}" is not on the server of --fhir-url (${baseUrl}). Give a path relative to it, such as Patient/123.`
        : `"${given}" leads outside --fhir-url (${baseUrl}). Give a path relative to it, such as Patient/123.`,
    );
  }
  return url.href;
}

/** Runs `single`. Returns the exit code. */
export async function runSingle(
  path: string | undefined,
  flags: SingleFlags,
  ctx: CommandContext,
): Promise<number> {
  const baseUrl = checkFhirUrl(flags.fhirUrl);
  const url = singleUrl(baseUrl, path ?? "");
  const outBytes = ctx.outBytes;
  if (flags.binary && !outBytes) {
    throw new InternalError(
      "single --binary was run without a byte output (CommandContext.outBytes).",
    );
  }
  const session = await openSession(flags, {
    clock: ctx.clock,
    reporter: ctx.reporter,
    signal: ctx.signal,
    bulk: false,
  });
  let res: { status: number; headers: Headers; body: unknown };
  try {
    // Asked as FHIR JSON even for --binary: a Binary read then answers the resource, whose
    // `data` we decode, rather than bytes of whatever type the server picks.
    res = await session.http.json(url, { headers: { Accept: "application/fhir+json" } });
  } catch (err) {
    // SMART Fetch shows the raw response body with -v: a vendor's error page says more.
    if (flags.verbose && err instanceof ServerError && err.body !== undefined) {
      const body = typeof err.body === "string" ? err.body : JSON.stringify(err.body, null, 2);
      new Messages(ctx.reporter).verbose(`The server answered:\n${body}`);
    }
    throw err;
  }
  const body = res.body;
  if (!body || typeof body !== "object") {
    const what = body === null || body === ""
      ? "an empty body"
      : typeof body === "string"
      ? `${res.headers.get("content-type") ?? "text without a Content-Type"}`
      : "JSON that is not a resource";
    throw new RefusedError(`GET ${url} answered ${what} (HTTP ${res.status}), not FHIR JSON.`);
  }
  if (flags.binary) {
    outBytes!(binaryData(body, path!.trim()));
  } else {
    ctx.out(`${flags.compact ? JSON.stringify(body) : JSON.stringify(body, null, 2)}\n`);
  }
  return ExitCode.Ok;
}

/** The decoded `data` of a Binary resource; anything else is an error naming what came. */
function binaryData(body: object, path: string): Uint8Array {
  const resource = body as { resourceType?: unknown; data?: unknown };
  const type = typeof resource.resourceType === "string" ? resource.resourceType : undefined;
  if (type !== "Binary") {
    throw new UsageError(
      `${path} answered ${
        type ? `a ${type}` : "JSON that is not a FHIR resource"
      }, not a Binary: --binary prints the data of a Binary resource (such as Binary/123).`,
    );
  }
  if (typeof resource.data !== "string") {
    throw new RefusedError(`${path} is a Binary without data: there are no bytes to print.`);
  }
  try {
    return fromBase64(resource.data);
  } catch {
    throw new RefusedError(`${path} is a Binary whose data is not base64.`);
  }
}
