/** The flags a command's `--help` defines, for tests that hold our CLI against a list. */

import assert from "node:assert/strict";
import { FakeClock } from "../../src/clock.ts";
import { runCli } from "./cli.ts";

/**
 * The flags a --help output defines: the long and short names at the start of its option lines
 * ("  -c, --config <file>   ..."), not flags merely mentioned in descriptions.
 */
export function definedFlags(help: string): Set<string> {
  const flags = new Set<string>();
  for (const m of help.matchAll(/^ {2}(-[a-zA-Z], )?(--[a-z][a-z0-9-]*)/gm)) {
    flags.add(m[2]!);
    if (m[1]) flags.add(m[1].slice(0, 2));
  }
  return flags;
}

/** The `--help` text of `argv` (a command, or nothing for the program); it must exit 0. */
export async function helpOf(argv: string[]): Promise<string> {
  const r = await runCli([...argv, "--help"], { clock: new FakeClock() });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** The subcommands `smart-fetch --help` lists. */
export async function commandNames(): Promise<string[]> {
  const help = await helpOf([]);
  const section = help.split(/^Commands:\n/m)[1] ?? "";
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!);
}
