/** Reading what an export wrote, the way downstream tools do. */

import { join, relative } from "node:path";
import { readObjects } from "../../src/workspace/ndjson_reader.ts";

/** A temporary folder removed at the end of the scope (`await using dir = await tempDir()`). */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "smart-fetch-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** Every file under `dir` (relative paths, sorted), dot-files included. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string) {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else out.push(relative(dir, p));
    }
  }
  await walk(dir);
  return out.sort();
}

/** The resources of one NDJSON(.gz) file. */
export async function readResources(path: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (
    const r of readObjects(path, (line) => {
      throw new Error(`Not a JSON object in ${path}: ${line.slice(0, 80)}`);
    })
  ) out.push(r);
  return out;
}

/**
 * The ids per resource type in the data files at the top of `dir` (`Type.NNN.ndjson[.gz]`),
 * each file's rows checked to be of the file's type. Duplicates are kept, so tests can see them.
 */
export async function idsByType(dir: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const name of await listFiles(dir)) {
    const m = /^([A-Za-z]+)\.\d+\.ndjson(\.gz)?$/.exec(name);
    if (!m) continue;
    for (const r of await readResources(join(dir, name))) {
      if (r.resourceType !== m[1]) throw new Error(`${name} holds a ${r.resourceType}`);
      out.set(m[1]!, [...(out.get(m[1]!) ?? []), String(r.id)]);
    }
  }
  for (const ids of out.values()) ids.sort();
  return out;
}

/** The rows of a folder's log.ndjson. */
export async function logRows(
  dir: string,
): Promise<{ exportId: string; eventId: string; eventDetail: Record<string, unknown> }[]> {
  const text = await Deno.readTextFile(join(dir, "log.ndjson"));
  return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** The folder's .metadata. */
export async function metadata(dir: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(join(dir, ".metadata")));
}

/**
 * Every data and deletion file under `dir` (not the log): name -> resource ids, or for Bundles
 * the DELETE urls they carry. Two folders with equal maps hold the same data.
 */
export async function contents(dir: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const name of await listFiles(dir)) {
    if (!/\.ndjson(\.gz)?$/.test(name) || name === "log.ndjson") continue;
    const rows = await readResources(join(dir, name));
    out.set(
      name,
      rows.map((r) =>
        r.resourceType === "Bundle"
          ? (r.entry as { request: { url: string } }[]).map((e) => e.request.url).join()
          : String(r.id)
      ),
    );
  }
  return out;
}

/** Waits for real (subprocess tests only). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
