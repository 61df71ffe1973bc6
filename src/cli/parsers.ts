/** Parsers for flag values: each names the bad value and what to do. */

import { InvalidArgumentError } from "commander";

/** A whole number within bounds. */
export function intParser(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

/** A rate in requests per second: a positive number such as `5` or `0.5`. */
export function parseRate(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(n > 0) || n > 100_000) {
    throw new InvalidArgumentError(`Expected requests per second, such as 5 or 0.5.`);
  }
  return n;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `90s`, `15m`, `12h`, `30d` (a bare number is seconds), in ms. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(value.trim());
  if (!m || Number(m[1]) <= 0) {
    throw new InvalidArgumentError(`Expected a duration such as 90s, 15m, 12h or 30d.`);
  }
  return Number(m[1]) * UNITS[m[2] || "s"]!;
}

/** Collects a repeatable flag into a list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** True when a folder argument is really a URL (a common mix-up with --fhir-url). */
export function looksLikeUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
}

/**
 * Checks a `--since` value: a FHIR date or instant (2024, 2024-01, 2024-01-31,
 * 2024-01-31T12:00:00Z, with an offset or fraction). Returns it unchanged.
 */
export function checkSince(value: string): string {
  const ok = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.test(
    value,
  );
  if (!ok || Number.isNaN(Date.parse(value.length === 4 ? `${value}-01-01` : value))) {
    throw new InvalidArgumentError(
      `Expected a date or time such as 2024-01-31 or 2024-01-31T12:00:00Z.`,
    );
  }
  return value;
}
