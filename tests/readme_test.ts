/** The README must stay true: its commands run, and every flag it shows exists. */

import assert from "node:assert/strict";
import { FakeClock } from "../src/clock.ts";
import { runCli } from "./helpers/cli.ts";

const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));

/** `smart-fetch ...` command lines from the README's sh blocks (continuations joined). */
function commandLines(): string[][] {
  const out: string[][] = [];
  for (const block of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const text = block[1]!.replace(/\\\n\s*/g, " ");
    for (const line of text.split("\n")) {
      const command = line.replace(/#.*$/, "").trim();
      if (command.startsWith("smart-fetch")) out.push(command.split(/\s+/).slice(1));
    }
  }
  return out;
}

async function helpOf(command: string | undefined): Promise<string> {
  const r = await runCli(command ? [command, "--help"] : ["--help"], { clock: new FakeClock() });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test("every --help and --version example in the README runs", async () => {
  const lines = commandLines().filter((argv) => ["--help", "--version"].includes(argv.at(-1)!));
  assert.ok(lines.length >= 3);
  for (const argv of lines) {
    const r = await runCli(argv, { clock: new FakeClock() });
    assert.equal(r.code, 0, `smart-fetch ${argv.join(" ")}: ${r.stderr}`);
    assert.match(
      r.stdout,
      argv.at(-1) === "--version" ? /^smart-fetch \d+\.\d+\.\d+/ : /Usage: smart-fetch/,
    );
  }
});

Deno.test("every flag in the README's examples and tables is a real flag of its command", async () => {
  const commands = new Set(["bulk", "export", "status", "reset-symlinks"]);
  const helps = new Map<string, string>();
  for (const c of commands) helps.set(c, await helpOf(c));
  const all = [...helps.values()].join("\n") + (await helpOf(undefined));
  for (const argv of commandLines()) {
    const help = commands.has(argv[0]!) ? helps.get(argv[0]!)! : all;
    for (const flag of argv.filter((a) => a.startsWith("--"))) {
      assert.ok(
        help.includes(flag.split("=")[0]!),
        `smart-fetch ${argv.join(" ")}: ${flag} is not a flag`,
      );
    }
  }
  // Flags named anywhere in the prose and tables.
  for (const m of readme.matchAll(/`(--[a-z][a-z-]*)/g)) {
    assert.ok(all.includes(m[1]!), `README mentions ${m[1]}, which no command has`);
  }
});

Deno.test("the README's bulk examples parse: --type help runs without a server", async () => {
  const r = await runCli(["bulk", "--type", "help"], { clock: new FakeClock() });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Observation/);
});
