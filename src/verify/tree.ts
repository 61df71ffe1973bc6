/**
 * Walks a folder the way Cumulus ETL lists it: every depth, dot-folders included, links to files
 * and folders followed (a link and its target inside the tree count once; a visited set stops
 * loops), names taken from the link-resolved targets. It also collects what a clean export never
 * leaves: our temporary files and links that lead nowhere.
 */

import { join, relative, sep } from "node:path";
import { isTempName } from "../workspace/files.ts";

/** A file in the tree. */
export interface TreeFile {
  /** Path relative to the top, as found (through a link only when the target is elsewhere). */
  rel: string;
  /** The link-resolved path: its name is what the ETL sees. */
  real: string;
  /** Bytes on disk. */
  size: number;
}

/** What a walk found. */
export interface Tree {
  files: TreeFile[];
  /** Temporary files (and links) of ours, relative to the top. */
  temps: string[];
  /** Links whose target does not exist, relative to the top, with the target they name. */
  dangling: { rel: string; target: string }[];
  /** Folders that could not be listed, relative to the top, with the reason. */
  unreadable: { rel: string; message: string }[];
}

/** Options of {@linkcode walkTree}. */
export interface WalkOptions {
  /** Top-level names not to enter (a managed folder's numbered subfolders). @default none */
  skipTop?: (name: string) => boolean;
  /** Follow links (the ETL does). Off: links are only looked at for their names. @default true */
  followLinks?: boolean;
}

/** Python's str order (code points), which the ETL sorts paths by. */
export function codePointCompare(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < x.length && i < y.length; i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d) return d;
  }
  return x.length - y.length;
}

/** Walks `top`; see the module doc. */
export async function walkTree(top: string, options: WalkOptions = {}): Promise<Tree> {
  const follow = options.followLinks ?? true;
  const tree: Tree = { files: [], temps: [], dangling: [], unreadable: [] };
  const realTop = await Deno.realPath(top);
  const found = new Map<string, TreeFile>();
  const visited = new Set([realTop]);
  const inTree = (p: string) => p === realTop || p.startsWith(realTop + sep);

  async function visit(dir: string, rel: string): Promise<void> {
    const entries: Deno.DirEntry[] = [];
    try {
      for await (const entry of Deno.readDir(dir)) entries.push(entry);
    } catch (err) {
      tree.unreadable.push({ rel: rel || ".", message: (err as Error).message });
      return;
    }
    entries.sort((a, b) => codePointCompare(a.name, b.name));
    for (const entry of entries) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      if (!rel && options.skipTop?.(entry.name)) continue;
      const path = join(dir, entry.name);
      if (isTempName(entry.name)) {
        tree.temps.push(relPath);
        continue;
      }
      if (entry.isSymlink && !follow) continue;
      let real = path;
      if (entry.isSymlink) {
        try {
          real = await Deno.realPath(path);
        } catch {
          const target = await Deno.readLink(path).catch(() => "?");
          tree.dangling.push({ rel: relPath, target });
          continue;
        }
      }
      const info = await Deno.stat(real).catch(() => undefined);
      if (!info) continue;
      const direct = !entry.isSymlink && real === join(realTop, relPath);
      if (info.isDirectory) {
        // A linked folder inside the tree is walked directly anyway; one elsewhere, once.
        if (entry.isSymlink && (inTree(real) || visited.has(real))) continue;
        visited.add(real);
        await visit(real, relPath);
      } else if (info.isFile) {
        const seen = found.get(real);
        if (!seen || (direct && !isDirect(seen, realTop))) {
          found.set(real, { rel: relPath, real, size: info.size });
        }
      }
    }
  }
  await visit(realTop, "");
  tree.files = [...found.values()].sort((a, b) => codePointCompare(a.rel, b.rel));
  return tree;
}

function isDirect(file: TreeFile, realTop: string): boolean {
  return relative(realTop, file.real).split(sep).join("/") === file.rel;
}
