/**
 * One page of a searchset Bundle: its entries, a `self` link and a `next` link that keeps every
 * parameter of the search (so following it gives exactly the next page of the same search),
 * and, with `searchOutcomes: "warning"`, Epic's warning OperationOutcome entry on the first page.
 *
 * @module
 */

import type { ServerContext } from "./context.ts";
import type { Resource } from "./types.ts";

/** The paging parameters the `next` link sets itself. */
const PAGING = new Set(["_count", "_offset"]);

/** The code system of Epic's OperationOutcome messages (an Epic OID; the org part is 0 here). */
const EPIC_MESSAGE_SYSTEM = "urn:oid:1.2.840.114350.1.13.0.1.7.2.657369";
/** Epic's message 4119, sent as a warning in search Bundles. */
const EPIC_4119 = "This response includes information available to the authorized user at the " +
  "time of the request. It may not contain the entire record available in the system.";

/** One page of a search. */
export interface SearchPage {
  /** The searched type. */
  type: string;
  /** The raw query as sent (the `self` link repeats it). */
  query: string;
  /** Every parameter of the search, percent-decoded, paging ones included, in request order. */
  pairs: [string, string][];
  /** Page size. */
  count: number;
  /** Index of the page's first result. */
  offset: number;
  /** Every match of the search, in order. */
  results: Resource[];
}

/**
 * Percent-encodes a query parameter name or value for a link: as encodeURIComponent (so "+" in
 * a zone offset is %2B and "|" is %7C), except that ":", "/" and "," stay as they are, as servers
 * write them (a comma is the OR separator either way: servers decode before they split).
 */
export function encodeQueryPart(text: string): string {
  return encodeURIComponent(text).replace(/%(?:3A|2F|2C)/g, (escape) => decodeURIComponent(escape));
}

/** The `next` URL: absolute, or relative to the base with `relativeNextLinks`. */
function nextUrl(ctx: ServerContext, page: SearchPage): string {
  const params = page.pairs.filter(([name]) => !PAGING.has(name))
    .map(([name, value]) => `${encodeQueryPart(name)}=${encodeQueryPart(value)}`);
  params.push(`_count=${page.count}`, `_offset=${page.offset + page.count}`);
  const relative = `${page.type}?${params.join("&")}`;
  return ctx.config.relativeNextLinks ? relative : `${ctx.baseUrl}/${relative}`;
}

/** Epic's warning entry: an OperationOutcome with `search.mode` "outcome" and no fullUrl. */
function outcomeEntry(): Record<string, unknown> {
  return {
    resource: {
      resourceType: "OperationOutcome",
      issue: [{
        severity: "warning",
        code: "processing",
        details: {
          coding: [{ system: EPIC_MESSAGE_SYSTEM, code: "4119", display: EPIC_4119 }],
          text: EPIC_4119,
        },
        diagnostics: "Some results may be filtered: the response includes only what the " +
          "authorized user may see at the time of the request.",
      }],
    },
    search: { mode: "outcome" },
  };
}

/** The searchset Bundle of one page. */
export function searchsetBundle(ctx: ServerContext, page: SearchPage): Record<string, unknown> {
  const { type, query, count, offset, results } = page;
  const link = [{
    relation: "self",
    url: `${ctx.baseUrl}/${type}${query === "" ? "" : `?${query}`}`,
  }];
  if (offset + count < results.length) link.push({ relation: "next", url: nextUrl(ctx, page) });
  const entry: Record<string, unknown>[] = results.slice(offset, offset + count).map((
    resource,
  ) => ({
    fullUrl: `${ctx.baseUrl}/${type}/${resource.id}`,
    resource,
    search: { mode: "match" },
  }));
  if (ctx.config.searchOutcomes === "warning" && offset === 0) entry.push(outcomeEntry());
  return {
    resourceType: "Bundle",
    id: crypto.randomUUID(),
    meta: { lastUpdated: new Date(ctx.config.now()).toISOString() },
    type: "searchset",
    total: results.length,
    link,
    entry,
  };
}
