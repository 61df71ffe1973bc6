/** One page of a FHIR search: its resources, the OperationOutcomes in it, and the next page. */

import { ServerError } from "../errors.ts";
import type { HttpClient } from "../http/client.ts";
import type { RetryPolicy } from "../http/types.ts";

/** A search page, read. */
export interface SearchPage {
  /** Resources of the page's entries (OperationOutcomes excluded). */
  resources: Record<string, unknown>[];
  /** OperationOutcomes the server put in the Bundle (they go to error/, never to data). */
  outcomes: Record<string, unknown>[];
  /** The absolute URL of the next page, if any. */
  next: string | undefined;
}

/** Searches retry a little less than bulk requests: a crawl has thousands of them. */
export const SEARCH_RETRY: Partial<RetryPolicy> = { maxAttempts: 6, deadlineMs: 15 * 60_000 };

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}

/**
 * GETs a search page. A 200 that is not a searchset Bundle is an error (a failed search), not an
 * empty result: nothing is silently lost.
 */
export async function fetchSearchPage(http: HttpClient, url: string): Promise<SearchPage> {
  const res = await http.json(url, {
    headers: { Accept: "application/fhir+json" },
    retry: SEARCH_RETRY,
  });
  const body = res.body;
  if (!isObject(body) || body.resourceType !== "Bundle") {
    const what = isObject(body) && typeof body.resourceType === "string"
      ? `a ${body.resourceType}`
      : "something that is not a FHIR Bundle";
    throw new ServerError(`The search answered ${what} instead of a Bundle`, {
      url,
      status: 200,
      body,
    });
  }
  const page: SearchPage = { resources: [], outcomes: [], next: undefined };
  for (const entry of Array.isArray(body.entry) ? body.entry : []) {
    const resource = isObject(entry) ? entry.resource : undefined;
    if (!isObject(resource)) continue;
    const mode = isObject(entry.search) ? entry.search.mode : undefined;
    if (resource.resourceType === "OperationOutcome" || mode === "outcome") {
      page.outcomes.push(resource);
    } else page.resources.push(resource);
  }
  const links = Array.isArray(body.link) ? body.link : [];
  const next = links.find((l) => isObject(l) && l.relation === "next" && typeof l.url === "string");
  if (next) page.next = http.resolve(String((next as { url: string }).url));
  return page;
}
