/**
 * Helpers for the crawl-mode tests: fetch a search and follow its `next` links (absolute or
 * relative to the base) the way a crawling client does.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { FakeFhirServer } from "./server.ts";

/** A search Bundle entry, as the tests read it. */
export interface Entry {
  fullUrl?: string;
  resource: { resourceType: string; id: string; [key: string]: unknown };
  search?: { mode: string };
}

/** A searchset Bundle, as the tests read it. */
export interface Bundle {
  resourceType: string;
  type: string;
  total: number;
  link: { relation: string; url: string }[];
  entry: Entry[];
}

/** The `next` link of a Bundle, if any. */
export function nextOf(bundle: Bundle): string | undefined {
  return bundle.link.find((l) => l.relation === "next")?.url;
}

/** GETs a search (a URL relative to the base, or absolute) and checks it is a searchset. */
export async function searchPage(server: FakeFhirServer, url: string): Promise<Bundle> {
  const res = await fetch(new URL(url, `${server.baseUrl}/`));
  const body = await res.json();
  assert.equal(res.status, 200, `${url}: ${JSON.stringify(body)}`);
  assert.equal(body.type, "searchset");
  return body;
}

/** Fetches a search and every next page; returns the pages in order. */
export async function crawlPages(server: FakeFhirServer, url: string): Promise<Bundle[]> {
  const pages: Bundle[] = [];
  for (let next: string | undefined = url; next !== undefined; next = nextOf(pages.at(-1)!)) {
    pages.push(await searchPage(server, next));
    assert.ok(pages.length <= 1000, `${url}: more than 1000 pages`);
  }
  return pages;
}

/** The ids of the matches (search mode "match") of some pages, in order. */
export function matchIds(pages: Bundle[]): string[] {
  return pages.flatMap((page) =>
    page.entry.filter((e) => e.search?.mode === "match").map((e) => e.resource.id)
  );
}
