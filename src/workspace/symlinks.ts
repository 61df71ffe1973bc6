/**
 * The managed folder's top-level symlinks `<Type>.NNN.ndjson.gz -> NNN.x/<file>`: the files
 * currently "active" for each type, for tools that read only the top level. Links are replaced
 * by renaming a new link over the old one, so a reader never sees a link missing.
 */

import { join } from "node:path";
import { ALL_KNOWN_TYPES } from "../fhir/resource_types.ts";
import { dataFilesOf } from "./data_files.ts";
import { tempPathFor } from "./files.ts";
import type { Subfolder } from "./managed.ts";

function exportedType(sub: Subfolder, type: string): string[] | undefined {
  const md = sub.metadata;
  if (!md || !(type in (md.done ?? {}))) return undefined;
  return [...(md.filters[type] ?? [])].sort();
}

/** True when hydration wrote files of `type` in the subfolder (Practitioner.referenced, ...). */
function hydratedType(sub: Subfolder, type: string): boolean {
  return sub.metadata?.hydrated?.includes(type) ?? false;
}

/**
 * The subfolders whose files of `type` are active, oldest first. Walking from the newest: a
 * folder is skipped when a newer full (non-since) export with the same filters replaced it;
 * the walk stops after the first unfiltered full export. So a full export hides older ones,
 * since-exports after it stay, and differently filtered exports coexist until an unfiltered
 * full export replaces them all.
 */
export function activeSubfolders(subs: readonly Subfolder[], type: string): Subfolder[] {
  const replaced = new Set<string>();
  const active: Subfolder[] = [];
  for (const sub of [...subs].reverse()) {
    const filters = exportedType(sub, type);
    if (!filters) {
      // Hydrated only: what the data referenced then. It adds to the links, never replaces.
      if (hydratedType(sub, type)) active.push(sub);
      continue;
    }
    const key = JSON.stringify(filters);
    if (replaced.has(key)) continue;
    active.push(sub);
    const md = sub.metadata!;
    const full = md.since === null || !(md.sinceResources ?? []).includes(type);
    if (!full) continue;
    if (filters.length === 0) break;
    replaced.add(key);
  }
  return active.reverse();
}

/** The links a managed folder should have: link name -> relative target. */
export async function desiredLinks(
  dir: string,
  subs: readonly Subfolder[],
): Promise<Map<string, string>> {
  const links = new Map<string, string>();
  for (const type of ALL_KNOWN_TYPES) {
    let n = 0;
    for (const sub of activeSubfolders(subs, type)) {
      for (const file of await dataFilesOf(join(dir, sub.name), type)) {
        n++;
        const suffix = file.endsWith(".gz") ? ".ndjson.gz" : ".ndjson";
        links.set(`${type}.${String(n).padStart(3, "0")}${suffix}`, `${sub.name}/${file}`);
      }
    }
  }
  return links;
}

/** True for a top-level name that one of our type links may have. */
function isTypeLinkName(name: string): boolean {
  const type = name.slice(0, name.indexOf("."));
  return ALL_KNOWN_TYPES.includes(type);
}

/**
 * Makes the top-level links match the active files. New and changed links are renamed into
 * place over the old ones; links no longer wanted are removed afterwards. Real files are never
 * touched. Returns the number of links.
 */
export async function rebuildSymlinks(dir: string, subs: readonly Subfolder[]): Promise<number> {
  const wanted = await desiredLinks(dir, subs);
  const existing = new Map<string, string>();
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isSymlink && isTypeLinkName(entry.name)) {
      existing.set(entry.name, await Deno.readLink(join(dir, entry.name)));
    }
  }
  for (const [name, target] of wanted) {
    if (existing.get(name) === target) continue;
    const temp = tempPathFor(join(dir, name));
    await Deno.symlink(target, temp);
    await Deno.rename(temp, join(dir, name));
  }
  for (const name of existing.keys()) {
    if (!wanted.has(name)) await Deno.remove(join(dir, name));
  }
  return wanted.size;
}
