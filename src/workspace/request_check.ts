/** Refusing to mix two different exports in one folder. */

import { UsageError } from "../errors.ts";
import { describeFilters } from "../fhir/type_filters.ts";
import type { OutputMetadata } from "./metadata.ts";

function sameFilters(a: Record<string, string[]>, b: Record<string, string[]>): boolean {
  const keys = Object.keys(a).sort();
  if (keys.join() !== Object.keys(b).sort().join()) return false;
  return keys.every((k) =>
    JSON.stringify([...a[k]!].sort()) === JSON.stringify([...(b[k] ?? [])].sort())
  );
}

/**
 * Throws unless `requested` is the same export as the one the folder holds: same server, Group,
 * types and filters, since and since mode (SMART Fetch's messages).
 */
export function checkSameRequest(
  dir: string,
  existing: OutputMetadata,
  requested: OutputMetadata,
): void {
  const url = existing["fhir-url"];
  if (
    url && requested["fhir-url"] &&
    url.replace(/\/$/, "") !== requested["fhir-url"].replace(/\/$/, "")
  ) {
    throw new UsageError(
      `Folder ${dir} holds an export from ${url}, not from ${
        requested["fhir-url"]
      }. Use another folder.`,
    );
  }
  if (
    existing.group !== undefined && requested.group !== undefined &&
    existing.group !== requested.group
  ) {
    throw new UsageError(
      `Folder ${dir} is for a different Group.\nExpected ${
        requested.group ?? "no Group"
      }, but found ${existing.group ?? "no Group"}.`,
    );
  }
  if (!sameFilters(existing.filters, requested.filters)) {
    throw new UsageError(
      `Folder ${dir} is for a different set of types and/or filters. Expected:\n${
        describeFilters(requested.filters)
      }\n\nbut found:\n${describeFilters(existing.filters)}`,
    );
  }
  if ((existing.since ?? null) !== (requested.since ?? null)) {
    throw new UsageError(
      `Folder ${dir} is for a different --since time. Expected ${
        requested.since ?? "none"
      } but found ${existing.since ?? "none"}.`,
    );
  }
  if (
    existing.since && existing.sinceMode && requested.sinceMode &&
    existing.sinceMode !== requested.sinceMode
  ) {
    throw new UsageError(
      `Folder ${dir} is for a different --since-mode. Expected '${requested.sinceMode}' but found '${existing.sinceMode}'.`,
    );
  }
}
