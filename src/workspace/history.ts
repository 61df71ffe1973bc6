/**
 * Looking back over a managed folder's earlier exports: the per-type times for `--since auto`,
 * and which earlier exports a new one should be compared with (deletions, new patients).
 */

import type { OutputMetadata } from "./metadata.ts";
import type { Subfolder } from "./managed.ts";

/** The filters an export used for a type (sorted), or undefined when it did not export it. */
function filtersFor(metadata: OutputMetadata | undefined, type: string): string[] | undefined {
  if (!metadata || !(type in (metadata.done ?? {}))) return undefined;
  const list = metadata.filters[type];
  return list ? [...list].sort() : undefined;
}

/**
 * True when an earlier export of a type covers the requested filters, by SMART Fetch's rule:
 * an unfiltered request needs an unfiltered export; a filtered request needs an export whose
 * filters include every requested one (filters are OR-ed). An unfiltered export does not count
 * for a filtered request.
 */
export function covers(earlier: readonly string[], requested: readonly string[]): boolean {
  if (requested.length === 0) return earlier.length === 0;
  return earlier.length > 0 && requested.every((f) => earlier.includes(f));
}

/**
 * The `--since auto` time per type: the newest `done` time of an earlier export of that type
 * whose filters cover the requested ones and whose since mode agrees (exports without a since
 * always agree). Types without such history get none.
 */
export function autoSince(
  subs: readonly Subfolder[],
  types: readonly string[],
  filters: Record<string, string[]>,
  sinceMode: "updated" | "created",
): Map<string, string> {
  const out = new Map<string, string>();
  for (const type of types) {
    let best: { time: string; ms: number } | undefined;
    for (const sub of subs) {
      const earlier = filtersFor(sub.metadata, type);
      if (!earlier || !covers(earlier, filters[type] ?? [])) continue;
      const md = sub.metadata!;
      if (md.since && md.sinceMode && md.sinceMode !== sinceMode) continue;
      const time = md.done![type]!;
      const ms = Date.parse(time);
      if (!Number.isNaN(ms) && (!best || ms > best.ms)) best = { time, ms };
    }
    if (best) out.set(type, best.time);
  }
  return out;
}

/**
 * The earlier exports a new export of `type` should be compared with: walking back from the
 * newest, those that exported the type with the same filters, up to and including the last one
 * made without a since filter (a full export). Empty when there is no such full export, since
 * then nothing complete is known to compare with.
 */
export function previousExports(
  subs: readonly Subfolder[],
  current: string,
  type: string,
  filters: readonly string[],
): Subfolder[] {
  const want = JSON.stringify([...filters].sort());
  const out: Subfolder[] = [];
  const at = subs.findIndex((s) => s.name === current);
  const older = at < 0 ? [...subs] : subs.slice(0, at);
  for (const sub of [...older].reverse()) {
    const earlier = filtersFor(sub.metadata, type);
    if (!earlier || JSON.stringify(earlier) !== want) continue;
    out.push(sub);
    const since = sub.metadata!.since;
    const typeHadSince = since !== null && (sub.metadata!.sinceResources ?? []).includes(type);
    if (!typeHadSince) return out;
  }
  return [];
}
