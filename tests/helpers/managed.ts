/** Helpers for managed-folder (`export`) tests. */

import { join } from "node:path";
import type { FakeClock } from "../../src/clock.ts";
import type { FakeFhirServer } from "../fake_server/mod.ts";
import { type CliResult, runCli } from "./cli.ts";
import { assertCumulusReadable } from "./cumulus.ts";
import { listFiles, readResources } from "./folder.ts";

/** Runs `smart-fetch export --fhir-url <server> ...flags dir` in-process. */
export function exportRun(
  server: FakeFhirServer,
  dir: string,
  clock: FakeClock,
  ...flags: string[]
): Promise<CliResult> {
  return runCli(["export", "--fhir-url", server.baseUrl, ...flags, dir], { clock });
}

/** The numbered subfolders of a managed folder, in order. */
export async function subfolders(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && /^\d+\./.test(e.name)) out.push(e.name);
  }
  return out.sort();
}

/** The top-level links: name -> target. */
export async function links(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    if (e.isSymlink) out.set(e.name, await Deno.readLink(join(dir, e.name)));
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** Every subfolder passes the Cumulus ETL reader's rules (no collisions, a usable log). */
export async function assertSubfoldersReadable(dir: string): Promise<void> {
  for (const sub of await subfolders(dir)) {
    await assertCumulusReadable(join(dir, sub), { allowNoData: true });
  }
}

/** A snapshot of a folder tree (names, sizes, mtimes) to prove nothing was written. */
export async function snapshot(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const f of await listFiles(dir).catch(() => [])) {
    const info = await Deno.lstat(join(dir, f));
    parts.push(`${f}:${info.size}:${info.mtime?.getTime()}`);
  }
  return parts.join("\n");
}

/** The rows of a gzip NDJSON deletion file: "Type/id" per DELETE entry. */
export async function deletedIds(path: string): Promise<string[]> {
  const out: string[] = [];
  for (const bundle of await readResources(path)) {
    for (const e of (bundle.entry as { request: { method: string; url: string } }[])) {
      if (e.request.method === "DELETE") out.push(e.request.url);
    }
  }
  return out.sort();
}
