/** URLs short enough for one-line messages: kick-off URLs run to hundreds of characters. */

/** Longest query kept in a message. */
const MAX_QUERY = 80;

/**
 * `url` for a message: origin and path as they are, the query cut to about 80 characters
 * (`...` marks the cut). Unparsable URLs are cut the same way.
 */
export function shortUrl(url: string | URL): string {
  let text: string;
  let query: string;
  try {
    const u = typeof url === "string" ? new URL(url) : url;
    text = `${u.origin}${u.pathname}`;
    query = u.search.slice(1);
  } catch {
    const s = String(url);
    const at = s.indexOf("?");
    text = at < 0 ? s : s.slice(0, at);
    query = at < 0 ? "" : s.slice(at + 1);
  }
  if (!query) return text;
  return `${text}?${query.length > MAX_QUERY ? `${query.slice(0, MAX_QUERY - 3)}...` : query}`;
}
