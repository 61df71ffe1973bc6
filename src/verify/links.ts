/**
 * A managed folder's top-level links (`<Type>.NNN.ndjson.gz -> NNN.x/<file>`): each must lead
 * to a file of its name's type and compression, and together they must be the active files that
 * `reset-symlinks` would make.
 */

import { basename, join } from "node:path";
import { isTempName } from "../workspace/files.ts";
import type { Subfolder } from "../workspace/managed.ts";
import { desiredLinks } from "../workspace/symlinks.ts";
import { isDataName, isGzipName, typeOfName } from "./names.ts";
import type { Problem } from "./problems.ts";

/**
 * Checks the links at the top of the managed folder `dir` (`shown` as problems name it).
 * `subs` (undefined when some subfolder's metadata cannot be read) gives the links wanted.
 */
export async function checkLinks(
  dir: string,
  shown: string,
  subs: readonly Subfolder[] | undefined,
  problem: (p: Problem) => void,
): Promise<void> {
  const links = new Map<string, string>();
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isSymlink && !isTempName(entry.name)) {
      links.set(entry.name, await Deno.readLink(join(dir, entry.name)));
    }
  }
  const broken = new Set<string>();
  for (const [name, target] of [...links].sort(([a], [b]) => a.localeCompare(b))) {
    const file = join(shown, name);
    const real = await Deno.realPath(join(dir, name)).catch(() => undefined);
    if (!real) {
      const message = `a link to ${target}, which does not exist: readers skip it`;
      problem({ file, code: "dangling-symlink", message });
      broken.add(name);
      continue;
    }
    if (!isDataName(name) && !isDataName(basename(real))) continue;
    const want = typeOfName(name);
    const got = typeOfName(basename(real));
    if (want !== got) {
      const holds = got ? `a ${got} file` : "a file whose name gives no resource type";
      problem({ file, code: "symlink-wrong-type", message: `links to ${target}, ${holds}` });
      broken.add(name);
    } else if (isGzipName(name) !== isGzipName(basename(real))) {
      const message = `links to ${target}: ${
        isGzipName(name) ? "a gzip name for a plain file" : "a plain name for a gzip file"
      }, which readers that trust the name misread`;
      problem({ file, code: "symlink-wrong-type", message });
      broken.add(name);
    }
  }
  if (!subs) return;
  const fix = `run smart-fetch reset-symlinks ${shown}`;
  const wanted = await desiredLinks(dir, subs);
  for (const [name, target] of links) {
    if (broken.has(name) || !isDataName(name) || !typeOfName(name)) continue;
    const active = wanted.get(name);
    if (active === undefined) {
      const message = `links to ${target}, which is not an active file (${fix})`;
      problem({ file: join(shown, name), code: "stale-symlink", message });
    } else if (active !== target) {
      const message = `links to ${target}, but the active file is ${active} (${fix})`;
      problem({ file: join(shown, name), code: "stale-symlink", message });
    }
  }
  for (const [name, target] of wanted) {
    if (links.has(name)) continue;
    const message = `no link to the active file ${target} (${fix})`;
    problem({ file: join(shown, name), code: "missing-symlink", message });
  }
}
