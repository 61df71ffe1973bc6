/**
 * Date search values: prefixes (eq, ne, gt, ge, lt, le, sa, eb) and precision ranges, as the
 * FHIR search spec defines them (a value covers its whole year, month, day or second).
 *
 * @module
 */

import { SearchError } from "./search_error.ts";

/** A half-open time range [lo, hi) in ms. */
type Range = [number, number];

const PREFIXES = ["eq", "ne", "gt", "ge", "lt", "le", "sa", "eb"] as const;

/** The range a FHIR date, dateTime or instant covers; undefined when unparsable. */
export function dateRange(text: string): Range | undefined {
  // A "+" in a zone offset often arrives decoded as a space.
  const value = text.trim().replace(" ", "+");
  let m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(value);
  if (m) {
    const year = Number(m[1]);
    if (m[2] === undefined) return [Date.UTC(year, 0, 1), Date.UTC(year + 1, 0, 1)];
    const month = Number(m[2]) - 1;
    if (m[3] === undefined) return [Date.UTC(year, month, 1), Date.UTC(year, month + 1, 1)];
    const start = Date.UTC(year, month, Number(m[3]));
    return [start, start + 86_400_000];
  }
  m = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/.exec(value);
  if (!m) return undefined;
  const ms = Date.parse(m[3] === undefined ? `${value}Z` : value);
  if (Number.isNaN(ms)) return undefined;
  const width = m[2] !== undefined ? 1 : m[1] !== undefined ? 1000 : 60_000;
  return [ms, ms + width];
}

/**
 * Compiles one date parameter value (comma = OR) into a test of a resource's date string.
 * Throws SearchError when the value cannot be parsed.
 */
export function matchDate(query: string, param: string): (value: string) => boolean {
  const tests = query.split(",").map((piece) => {
    const prefix = PREFIXES.find((p) => piece.startsWith(p)) ?? "eq";
    const text = piece.startsWith(prefix) ? piece.slice(2) : piece;
    const wanted = dateRange(text);
    if (!wanted) {
      throw new SearchError(`Cannot parse date "${piece}" of search parameter "${param}"`, param);
    }
    const [lo, hi] = wanted;
    return (value: string) => {
      const range = dateRange(value);
      if (!range) return false;
      const [rlo, rhi] = range;
      switch (prefix) {
        case "eq":
          return rlo >= lo && rhi <= hi;
        case "ne":
          return !(rlo >= lo && rhi <= hi);
        case "gt":
          return rhi > hi;
        case "ge":
          return rhi > lo;
        case "lt":
          return rlo < lo;
        case "le":
          return rlo < hi;
        case "sa":
          return rlo >= hi;
        case "eb":
          return rhi <= lo;
      }
    };
  });
  return (value) => tests.some((test) => test(value));
}
