/**
 * A FHIR server built on an independent search implementation, to test our crawler against
 * something that does not share our fake server's blind spots: Medplum's `FhirRouter` over its
 * in-memory `MemoryRepository`, loaded with our generator's data set (ids and `meta.lastUpdated`
 * kept), behind a small `Deno.serve` wrapper on 127.0.0.1. No auth. Test-only: never import it
 * from `src/`.
 *
 * ```ts
 * await using server = await startMedplumServer({ patients: 12 });
 * const res = await fetch(`${server.baseUrl}/Observation?patient=pat-0001`);
 * ```
 *
 * @module
 */

import { FhirRouter, MemoryRepository } from "@medplum/fhir-router";
import { DEFAULT_SEARCH_COUNT } from "@medplum/core";
import { generateData } from "../fake_server/data/generate.ts";
import type { Resource } from "../fake_server/types.ts";
import {
  badRequestAnswer,
  errorAnswer,
  type Json,
  notFoundAnswer,
  routeGet,
  type RouterAnswer,
  storeResource,
} from "./medplum_adapter.ts";
import { capabilityStatement } from "./medplum_capability.ts";
import { loadMedplumDefinitions, SEARCHABLE_TYPES } from "./medplum_definitions.ts";
import { type SearchContext, searchType } from "./medplum_search.ts";

/** Options of {@linkcode startMedplumServer}. */
export interface MedplumServerOptions {
  /** How many patients the generator makes (`generateData(seed, patients)`). */
  patients: number;
  /** The generator's PRNG seed: the same seed gives the same data as our fake server. @default 1 */
  seed?: number;
  /** Page size of a search without `_count` (Medplum's `DEFAULT_SEARCH_COUNT`). @default 20 */
  defaultCount?: number;
  /**
   * Answer an unknown search parameter with an empty searchset, as `MemoryRepository` alone does,
   * instead of a 400 "Unknown search parameter" as Medplum's server does. @default false
   */
  emptyOnUnknownParams?: boolean;
}

/** A resource Medplum refused to store, and why. */
export interface RejectedResource {
  resourceType: string;
  id: string;
  reason: string;
}

/** A request the server received. */
export interface MedplumRequest {
  method: string;
  /** The full request URL. */
  url: string;
  status: number;
}

/** A running interop server. */
export interface MedplumServer extends AsyncDisposable {
  /** FHIR base URL, `http://127.0.0.1:PORT/fhir` (no trailing slash, like our fake server). */
  baseUrl: string;
  /** Every request so far, in arrival order. */
  requests: MedplumRequest[];
  /** Resources Medplum refused to store (none so far: MemoryRepository does not validate). */
  rejected: RejectedResource[];
  /** Milliseconds spent indexing definitions (0 once loaded in this process) and loading data. */
  startup: { definitionsMs: number; dataMs: number };
  /** The stored resources of a type (as Medplum stored them: with `meta.versionId`), in load order. */
  resources(type: string): Resource[];
  /** Stops the listener and waits for open requests to finish. */
  close(): Promise<void>;
}

const FHIR_JSON = "application/fhir+json; charset=utf-8";

/** Starts the server on 127.0.0.1 (a free port) with the generated data set loaded. */
export async function startMedplumServer(options: MedplumServerOptions): Promise<MedplumServer> {
  const started = performance.now();
  loadMedplumDefinitions(SEARCHABLE_TYPES);
  const indexed = performance.now();

  const repo = new MemoryRepository();
  const stored = new Map<string, Resource[]>();
  const rejected: RejectedResource[] = [];
  await repo.withSeeding(async () => {
    for (const resource of generateData(options.seed ?? 1, options.patients)) {
      try {
        const copy = await storeResource(repo, resource);
        const list = stored.get(copy.resourceType) ?? [];
        list.push(copy);
        stored.set(copy.resourceType, list);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        rejected.push({ resourceType: resource.resourceType, id: resource.id, reason });
      }
    }
  });
  const loaded = performance.now();

  const requests: MedplumRequest[] = [];
  const searchable = new Set(SEARCHABLE_TYPES);
  const router = new FhirRouter();
  // The base URL (for links and metadata) is known once the listener has its port.
  const site = Promise.withResolvers<{ ctx: SearchContext; metadata: Json }>();

  const answer = async (req: Request): Promise<RouterAnswer> => {
    const { ctx, metadata } = await site.promise;
    const url = new URL(req.url);
    if (req.method !== "GET") {
      return { ...badRequestAnswer(`${req.method} is not supported`), status: 405 };
    }
    if (!url.pathname.startsWith("/fhir/")) return notFoundAnswer();
    const parts = url.pathname.slice("/fhir/".length).split("/").filter(Boolean);
    const [type, id] = parts.map(decodeURIComponent);
    if (parts.length === 1 && type === "metadata") return { status: 200, body: metadata };
    if (parts.length === 1 && type !== undefined) {
      if (!searchable.has(type)) {
        return badRequestAnswer(`Search on ${type} is not supported by this test server`);
      }
      return await searchType(ctx, type, url.search);
    }
    if (parts.length === 2 && type !== undefined && id !== undefined) {
      return await routeGet(router, repo, `${type}/${id}`);
    }
    return notFoundAnswer();
  };

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      // A throw (a malformed %-escape, say) becomes an OperationOutcome, as Medplum normalizes it.
      const { status, body } = await answer(req).catch(errorAnswer);
      requests.push({ method: req.method, url: req.url, status });
      const headers = new Headers({ "content-type": FHIR_JSON });
      const meta = body.meta as { versionId?: string; lastUpdated?: string } | undefined;
      if (status === 200 && body.resourceType !== "Bundle" && meta?.versionId) {
        headers.set("etag", `W/"${meta.versionId}"`);
        if (meta.lastUpdated) {
          headers.set("last-modified", new Date(meta.lastUpdated).toUTCString());
        }
      }
      return new Response(JSON.stringify(body), { status, headers });
    },
  );
  const baseUrl = `http://127.0.0.1:${server.addr.port}/fhir`;
  site.resolve({
    ctx: {
      router,
      repo,
      baseUrl,
      defaultCount: options.defaultCount ?? DEFAULT_SEARCH_COUNT,
      emptyOnUnknownParams: options.emptyOnUnknownParams ?? false,
    },
    metadata: capabilityStatement({
      baseUrl,
      searchable: SEARCHABLE_TYPES,
      readOnly: [...stored.keys()].filter((type) => !searchable.has(type)),
    }),
  });

  let closed: Promise<void> | undefined;
  const close = () => closed ??= server.shutdown();
  return {
    baseUrl,
    requests,
    rejected,
    startup: { definitionsMs: indexed - started, dataMs: loaded - indexed },
    resources: (type) => stored.get(type) ?? [],
    close,
    [Symbol.asyncDispose]: close,
  };
}
