/**
 * Resolving an ID cohort to Patients. MRNs (`--id-system`) are searched in batches,
 * `Patient?identifier=S|a,S|b,...` (about 50 per request, so 10k MRNs take some 200 requests, not
 * 10,000); every returned Patient is matched back to the MRNs it carries. MRNs a batch did not
 * match are searched one by one, to tell "absent" from "the server ignored the OR"; when the
 * first batches show the server does not OR, the rest of the run goes one by one. Plain ids are
 * read as `Patient/<id>`. Patients are written as they come, never all held in memory.
 */

import { ServerError } from "../errors.ts";
import type { HttpClient } from "../http/client.ts";
import { fetchSearchPage } from "../crawl/search_page.ts";

/** Options for {@linkcode resolveCohort}. */
export interface ResolveOptions {
  http: HttpClient;
  /** The identifier system of the IDs, or undefined when they are Patient ids. */
  system: string | undefined;
  /** Patient type filters (query strings), each an OR-ed search of its own. */
  filters: readonly string[];
  /** Receives each Patient once (by id), in the order found. */
  onPatient: (patient: Record<string, unknown>) => Promise<void> | void;
  /** Requests at once. */
  concurrency: number;
  /** IDs per batched search. @default 50 */
  batchSize?: number;
  /** Told how far resolution is (IDs settled, of all). */
  onProgress?: (settled: number, total: number) => void;
}

/** What resolution found. */
export interface Resolution {
  /** Patients found (distinct ids). */
  patients: number;
  /** IDs that matched no Patient. */
  unmatched: string[];
  /** IDs that matched several Patients: ID -> Patient ids. */
  multiple: Map<string, string[]>;
  /** Requests sent (pages included). */
  requests: number;
  /** Whether batched OR searches were used to the end (false: the server does not OR). */
  batched: boolean;
}

/** IDs of a Patient with identifier system `system`. */
function idsOf(patient: Record<string, unknown>, system: string): string[] {
  const list = Array.isArray(patient.identifier) ? patient.identifier : [];
  return list
    .filter((i) => i && typeof i === "object" && i.system === system && typeof i.value === "string")
    .map((i) => String(i.value));
}

/** A token search value: `|` and `,` inside an ID would change its meaning, so escape them. */
function token(system: string, value: string): string {
  const esc = value.replaceAll("\\", "\\\\").replaceAll(",", "\\,").replaceAll("|", "\\|");
  return `${system}|${esc}`;
}

/** Runs `jobs` with at most `n` at a time; stops starting new ones after a failure. */
async function pool<T>(items: readonly T[], n: number, job: (item: T) => Promise<void>) {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      try {
        await job(items[next++]!);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, n) }, worker));
  if (failure) throw failure.err;
}

/** Resolves `ids` (distinct, in order) to Patients. */
export async function resolveCohort(
  ids: readonly string[],
  options: ResolveOptions,
): Promise<Resolution> {
  const { http, system } = options;
  const result: Resolution = {
    patients: 0,
    unmatched: [],
    multiple: new Map(),
    requests: 0,
    batched: system !== undefined,
  };
  const written = new Set<string>();
  const matches = new Map<string, Set<string>>();
  let settled = 0;
  const filters = options.filters.length ? options.filters : [""];

  const take = async (patient: Record<string, unknown>, forIds: string[]) => {
    const pid = typeof patient.id === "string" ? patient.id : undefined;
    if (!pid) return;
    for (const id of forIds) {
      const set = matches.get(id) ?? new Set<string>();
      set.add(pid);
      matches.set(id, set);
    }
    if (written.has(pid)) return;
    written.add(pid);
    result.patients++;
    await options.onPatient(patient);
  };

  /** Every Patient of a search (all pages, every filter). */
  const search = async (query: string): Promise<Record<string, unknown>[]> => {
    const out: Record<string, unknown>[] = [];
    for (const filter of filters) {
      let url: string | undefined = `${http.baseUrl}/Patient?${query}${filter ? `&${filter}` : ""}`;
      while (url) {
        const page = await fetchSearchPage(http, url);
        result.requests++;
        out.push(...page.resources.filter((r) => r.resourceType === "Patient"));
        url = page.next !== url ? page.next : undefined;
      }
    }
    return out;
  };

  const one = async (id: string) => {
    if (system !== undefined) {
      const found = await search(`identifier=${encodeURIComponent(token(system, id))}`);
      for (const p of found) if (idsOf(p, system).includes(id)) await take(p, [id]);
    } else if (options.filters.length) {
      for (const p of await search(`_id=${encodeURIComponent(id)}`)) await take(p, [id]);
    } else {
      try {
        const res = await http.json(`${http.baseUrl}/Patient/${encodeURIComponent(id)}`, {
          headers: { Accept: "application/fhir+json" },
        });
        result.requests++;
        const body = res.body as Record<string, unknown> | null;
        if (body?.resourceType === "Patient") await take(body, [id]);
      } catch (err) {
        result.requests++;
        if (!(err instanceof ServerError && (err.status === 404 || err.status === 410))) throw err;
      }
    }
    settled++;
    options.onProgress?.(settled, ids.length);
  };

  if (system === undefined) {
    await pool(ids, options.concurrency, one);
  } else {
    const size = Math.max(1, options.batchSize ?? 50);
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += size) batches.push(ids.slice(i, i + size));
    let judged = 0;
    const batch = async (list: string[]) => {
      if (!result.batched) {
        for (const id of list) await one(id);
        return;
      }
      let found: Record<string, unknown>[];
      try {
        // One page per batch where the server allows it (it may page anyway: links are followed).
        found = await search(
          `identifier=${
            list.map((id) => encodeURIComponent(token(system, id))).join(",")
          }&_count=${list.length}`,
        );
      } catch (err) {
        // A server that refuses the OR form outright: one by one from now on.
        if (!(err instanceof ServerError && err.status === 400)) throw err;
        result.batched = false;
        for (const id of list) await one(id);
        return;
      }
      const wanted = new Set(list);
      for (const p of found) {
        const hit = idsOf(p, system).filter((v) => wanted.has(v));
        if (hit.length) await take(p, hit);
      }
      const missed = list.filter((id) => !matches.has(id));
      settled += list.length - missed.length;
      options.onProgress?.(settled, ids.length);
      const before = result.patients;
      for (const id of missed) await one(id);
      // Singles that find what the batch did not: the server ignored the OR.
      const rescued = missed.filter((id) => matches.has(id)).length;
      if (judged++ < 3 && rescued >= Math.max(2, missed.length / 2) && result.patients > before) {
        result.batched = false;
      }
    };
    await pool(batches, options.concurrency, batch);
  }
  for (const id of ids) {
    const found = matches.get(id);
    if (!found) result.unmatched.push(id);
    else if (found.size > 1) result.multiple.set(id, [...found].sort());
  }
  return result;
}
