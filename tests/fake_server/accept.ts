/**
 * Content negotiation: the media ranges of an Accept header and whether Accept-Encoding
 * allows gzip.
 *
 * @module
 */

/** Media ranges of an Accept header, without parameters, lower-cased (a wildcard when absent). */
export function mediaRanges(header: string | undefined): string[] {
  return (header ?? "*/*").split(",").map((p) => p.split(";")[0]!.trim().toLowerCase());
}

/** Whether an Accept-Encoding header allows gzip. */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    if (coding !== "gzip" && coding !== "x-gzip" && coding !== "*") return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
