/** The V8 flags `deno task compile` bakes into the binary, so the benchmarks measure what ships. */

import { fileURLToPath } from "node:url";

/** `--v8-flags=...` from the compile task of deno.json, or nothing. */
export function shippedV8Flags(): string[] {
  const config = JSON.parse(
    Deno.readTextFileSync(fileURLToPath(new URL("../deno.json", import.meta.url))),
  );
  const flag = /--v8-flags=\S+/.exec(String(config.tasks?.compile ?? ""));
  return flag ? [flag[0]] : [];
}
