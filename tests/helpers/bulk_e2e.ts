/** Shared pieces of the end-to-end bulk tests: expected data, folder checks, hook-able clocks. */

import assert from "node:assert/strict";
import { FakeClock } from "../../src/clock.ts";
import { DEFAULT_TYPES } from "../../src/fhir/resource_types.ts";
import { STANDARD_OBSERVATION_CATEGORIES } from "../../src/fhir/type_filters.ts";
import type { FakeFhirServer, LoggedRequest } from "../fake_server/mod.ts";
import { idsByType, listFiles } from "./folder.ts";

/** Observation categories the default filter keeps (on Epic or elsewhere). */
export function defaultCategories(epic = false): string[] {
  return epic ? STANDARD_OBSERVATION_CATEGORIES.slice(0, -3) : [...STANDARD_OBSERVATION_CATEGORIES];
}

/** The ids an export of `types` should hold, per type, from the server's own data. */
export function expectedIds(
  server: FakeFhirServer,
  types: readonly string[] = DEFAULT_TYPES,
  options: { epic?: boolean; patients?: readonly string[] } = {},
): Map<string, string[]> {
  const keep = new Set(defaultCategories(options.epic));
  const out = new Map<string, string[]>();
  const refs = options.patients && new Set(options.patients.map((p) => `Patient/${p}`));
  for (const type of types) {
    let resources = server.resources(type);
    if (refs) {
      resources = resources.filter((r) => {
        if (type === "Patient") return refs.has(`Patient/${r.id}`);
        const subject = (r.subject ?? r.patient) as { reference?: string } | undefined;
        return refs.has(subject?.reference ?? "");
      });
    }
    if (type === "Observation") {
      resources = resources.filter((r) =>
        (r.category as { coding: { code: string }[] }[] | undefined)?.some((c) =>
          c.coding.some((x) => keep.has(x.code))
        )
      );
    }
    if (resources.length) out.set(type, resources.map((r) => String(r.id)).sort());
  }
  return out;
}

/**
 * Asserts the folder holds exactly the server's data for `types` (every id once: no loss, no
 * duplicates) and no temporary file.
 */
export async function assertComplete(
  dir: string,
  server: FakeFhirServer,
  types: readonly string[] = DEFAULT_TYPES,
  options: { epic?: boolean } = {},
): Promise<void> {
  assert.deepEqual(await idsByType(dir), expectedIds(server, types, options));
  const files = await listFiles(dir);
  assert.deepEqual(files.filter((f) => f.includes(".part") || f.includes(".tmp")), []);
}

/** Requests of some kinds, in arrival order. */
export function requestsOf(server: FakeFhirServer, ...kinds: string[]): LoggedRequest[] {
  return server.requests.filter((r) => kinds.includes(r.kind));
}

/** The decoded protected header and claims of a JWT (no verification). */
export function decodeJwt(
  jwt: string,
): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const part = (s: string) =>
    JSON.parse(
      new TextDecoder().decode(
        Uint8Array.from(atob(s.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0)),
      ),
    );
  const [header, claims] = jwt.split(".");
  return { header: part(header!), claims: part(claims!) };
}

/** The client assertions sent to the token endpoint, in order. */
export function clientAssertions(server: FakeFhirServer): string[] {
  return requestsOf(server, "token").map((r) =>
    new URLSearchParams(r.body ?? "").get("client_assertion") ?? ""
  );
}

/** A FakeClock that calls `onSleep` before each (instant) sleep: a hook at a known moment of a run. */
export class HookClock extends FakeClock {
  constructor(private readonly onSleep: (ms: number, index: number) => void) {
    super();
  }
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.onSleep(ms, this.sleeps.length);
    return super.sleep(ms, signal);
  }
}

/**
 * A FakeClock whose time moves only when a sleep ends (after a few real milliseconds), not when
 * it starts. Other tasks keep running in the meantime at the old time, so a request sent while
 * another task waits carries a time before that wait's end: ordering becomes observable.
 */
export class SteppingClock extends FakeClock {
  /** `realMs`: how long each sleep really takes (the window in which others run on). */
  constructor(private readonly realMs = 15) {
    super();
  }
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.sleeps.push(ms);
    const wake = this.now() + Math.max(0, ms);
    return new Promise((resolve) =>
      setTimeout(() => {
        const left = wake - this.now();
        if (left > 0) this.advance(left);
        resolve();
      }, this.realMs)
    );
  }
}
