/**
 * Type-level search through Medplum's router, with the paging Medplum's own server adds on top
 * of its repository: `MemoryRepository.search` returns only entries and a total, so the `self`,
 * `first`, `next` and `previous` links, `fullUrl`s, the default page size and the 400 for unknown
 * parameters follow `packages/server/src/fhir/search.ts` (`getSearchLinks`,
 * `buildSearchLinksWithOffset`, `applyCountAndOffsetLimits`).
 *
 * @module
 */

import {
  DEFAULT_MAX_SEARCH_COUNT,
  formatSearchQuery,
  getSearchParameter,
  isChainedSearchFilter,
  parseSearchRequest,
  type SearchRequest,
} from "@medplum/core";
import type { FhirRouter, MemoryRepository } from "@medplum/fhir-router";
import {
  badRequestAnswer,
  errorAnswer,
  type Json,
  routeGet,
  type RouterAnswer,
} from "./medplum_adapter.ts";

/** What a search needs from the server. */
export interface SearchContext {
  router: FhirRouter;
  repo: MemoryRepository;
  /** FHIR base URL without a trailing slash; links and `fullUrl`s are absolute under it. */
  baseUrl: string;
  /** Page size without `_count`. */
  defaultCount: number;
  /** Answer unknown parameters with an empty searchset (MemoryRepository) instead of a 400. */
  emptyOnUnknownParams: boolean;
}

interface RepositoryBundle {
  entry?: { resource: Json; search?: Json }[];
  total?: number;
}

/** `GET [base]/<type>?<query>`: a searchset Bundle, or an OperationOutcome with its status. */
export async function searchType(
  ctx: SearchContext,
  type: string,
  query: string,
): Promise<RouterAnswer> {
  let request: SearchRequest;
  try {
    request = parseSearchRequest(`${type}${query}`);
  } catch (err) {
    return errorAnswer(err);
  }
  if (!ctx.emptyOnUnknownParams) {
    for (const filter of request.filters ?? []) {
      if (!isChainedSearchFilter(filter) && !getSearchParameter(type, filter.code)) {
        return badRequestAnswer(`Unknown search parameter: ${filter.code}`);
      }
    }
  }
  const count = request.count ?? ctx.defaultCount;
  const offset = request.offset ?? 0;
  if (!Number.isInteger(count) || count < 0) return badRequestAnswer(`Invalid _count: ${count}`);
  if (!Number.isInteger(offset) || offset < 0) {
    return badRequestAnswer(`Invalid _offset: ${offset}`);
  }
  const paged: SearchRequest = {
    ...request,
    count: Math.min(count, DEFAULT_MAX_SEARCH_COUNT),
    offset,
  };
  const answer = await routeGet(ctx.router, ctx.repo, `${type}${formatSearchQuery(paged)}`);
  if (answer.status !== 200) return answer;
  const found = answer.body as RepositoryBundle;
  return { status: 200, body: searchset(ctx, paged, found) };
}

function searchset(ctx: SearchContext, request: SearchRequest, found: RepositoryBundle): Json {
  const count = request.count ?? ctx.defaultCount;
  const offset = request.offset ?? 0;
  const total = found.total ?? 0;
  const entry = (found.entry ?? []).map(({ resource, search }) => ({
    fullUrl: `${ctx.baseUrl}/${resource.resourceType}/${resource.id}`,
    search: search ?? { mode: "match" },
    resource,
  }));
  const url = (r: SearchRequest) => `${ctx.baseUrl}/${r.resourceType}${formatSearchQuery(r)}`;
  const link = [{ relation: "self", url: url(request) }];
  if (count > 0 && entry.length > 0) {
    link.push({ relation: "first", url: url({ ...request, offset: 0 }) });
    if (offset + count < total) {
      link.push({ relation: "next", url: url({ ...request, offset: offset + count }) });
    }
    if (offset > 0) {
      link.push({
        relation: "previous",
        url: url({ ...request, offset: Math.max(0, offset - count) }),
      });
    }
  }
  // Medplum's server counts only on request (`_total=accurate`, `_summary=count`), and sends no
  // `entry` at all for `_count=0`.
  const withTotal = request.total === "accurate" || request.total === "estimate";
  return {
    resourceType: "Bundle",
    type: "searchset",
    ...(count > 0 ? { entry } : {}),
    ...(withTotal ? { total } : {}),
    link,
  };
}
