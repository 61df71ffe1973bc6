/** The README must stay true: its commands run, and every flag it shows exists. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { runCli } from "./helpers/cli.ts";
import { tempDir } from "./helpers/folder.ts";
import { definedFlags, helpOf } from "./helpers/help_flags.ts";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));

/** The subcommands whose --help the README's command lines are checked against. */
const COMMANDS = [
  "export",
  "bulk",
  "crawl",
  "single",
  "bundle",
  "status",
  "verify",
  "reset-symlinks",
  "hydrate",
  "inline",
  "cohort",
];

/** The help a command's flags come from: `cohort`'s flags are those of `cohort split`. */
const HELP_OF: Record<string, string[]> = { cohort: ["cohort", "split"] };

/** `smart-fetch ...` command lines from the sh blocks of `text` (continuations joined). */
function commandLines(text: string): string[][] {
  const out: string[][] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = block[1]!.replace(/\\\n\s*/g, " ");
    for (const line of joined.split("\n")) {
      const command = line.replace(/#.*$/, "").trim();
      if (command.startsWith("smart-fetch ")) out.push(command.split(/\s+/).slice(1));
    }
  }
  return out;
}

/** The flags of the program itself (before any command) and of each command. */
interface FlagSets {
  root: Set<string>;
  byCommand: Map<string, Set<string>>;
}

/** Whole flags an argument names: `--x=1` is `--x`; values and `-` are none. */
function flagOf(arg: string): string | undefined {
  if (/^--[a-z]/.test(arg)) return arg.split("=")[0];
  if (/^-[a-zA-Z]$/.test(arg)) return arg;
  return undefined;
}

/**
 * What is wrong with the flags in `text` (a README): each command line's flags must be flags of
 * its command (those before the command: of the program), and every flag named in a code span
 * must be a flag of some command. Whole flags only: `--type` is not a part of `--type-filter`.
 */
function flagProblems(text: string, sets: FlagSets): string[] {
  const problems: string[] = [];
  const all = new Set([...sets.root, ...[...sets.byCommand.values()].flatMap((s) => [...s])]);
  for (const argv of commandLines(text)) {
    const at = argv.findIndex((a) => sets.byCommand.has(a));
    for (const [i, arg] of argv.entries()) {
      const flag = flagOf(arg);
      if (!flag) continue;
      const command = at >= 0 && i > at ? argv[at]! : undefined;
      const allowed = command ? sets.byCommand.get(command)! : sets.root;
      if (!allowed.has(flag)) {
        problems.push(
          `smart-fetch ${argv.join(" ")}: ${flag} is not a flag of ${command ?? "smart-fetch"}`,
        );
      }
    }
  }
  // Flags named in the prose and tables: every --flag inside an inline code span about us (one
  // that starts with a flag, a command or smart-fetch; not `npx --yes ...`).
  const ours = new RegExp(`^(-|smart-fetch\\b|(${[...sets.byCommand.keys()].join("|")})\\b)`);
  for (const span of text.replace(/```[\s\S]*?```/g, "").matchAll(/`([^`\n]+)`/g)) {
    if (!ours.test(span[1]!)) continue;
    for (const m of span[1]!.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*)/g)) {
      if (!all.has(m[1]!)) problems.push(`README mentions ${m[1]}, which no command has`);
    }
  }
  return problems;
}

async function flagSets(): Promise<FlagSets> {
  const byCommand = new Map<string, Set<string>>();
  for (const c of COMMANDS) byCommand.set(c, definedFlags(await helpOf(HELP_OF[c] ?? [c])));
  return { root: definedFlags(await helpOf([])), byCommand };
}

Deno.test("flag parsing of help and README text matches whole flags, per command", async () => {
  const sets = await flagSets();
  const bulk = sets.byCommand.get("bulk")!;
  for (const f of ["--type", "--type-filter", "--fhir-url", "--no-compression", "-c", "--config"]) {
    assert.ok(bulk.has(f), `bulk --help defines ${f}`);
  }
  assert.ok(!bulk.has("--nickname"), "export's --nickname is not a bulk flag");
  assert.ok(sets.root.has("--version") && bulk.has("--version") && !bulk.has("--group-nickname"));

  // A README with a misspelt flag that is a prefix of real ones, a flag of another command,
  // and a prose mention of a flag nobody has.
  const doctored = [
    README,
    "```sh",
    "smart-fetch bulk --fhir-url https://ehr.example.org/fhir --typ Patient ./out",
    "smart-fetch bulk --fhir-url https://ehr.example.org/fhir \\",
    "  --nickname q1 ./out",
    "smart-fetch --verbos status ./out",
    "```",
    "Use `--type-filte X` to filter, not `npx --yes` or `deno --no-check`.",
    "",
  ].join("\n");
  assert.deepEqual(flagProblems(README, sets), [], "the real README is fine");
  const problems = flagProblems(doctored, sets);
  assert.deepEqual(problems.map((p) => p.replace(/^.*: /, "")), [
    "--typ is not a flag of bulk",
    "--nickname is not a flag of bulk",
    "--verbos is not a flag of smart-fetch",
    "README mentions --type-filte, which no command has",
  ]);
});

Deno.test("every --help and --version example in the README runs", async () => {
  const lines = commandLines(README).filter((argv) =>
    ["--help", "--version"].includes(argv.at(-1)!)
  );
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
  const lines = commandLines(README);
  assert.ok(lines.filter((argv) => argv.some((a) => a.startsWith("--"))).length >= 10);
  assert.deepEqual(flagProblems(README, await flagSets()), []);
});

/** README `bulk` and `export` examples that do work (not `--help`), as argv. */
function runExamples(text: string): string[][] {
  return commandLines(text).filter((argv) =>
    ["bulk", "export", "crawl"].includes(argv[0]!) && !argv.includes("--help")
  );
}

/**
 * Runs an example with `--type help`: it parses its flags and values, then lists types. A config
 * file it names (`-c FILE`) is replaced by `config`.
 */
async function parses(argv: string[], config?: string): Promise<{ ok: boolean; why: string }> {
  const args = argv.map((a, i) =>
    config && i > 0 && ["-c", "--config"].includes(argv[i - 1]!) ? config : a
  );
  const r = await runCli([...args, "--type", "help"], { clock: new FakeClock() });
  const ok = r.code === 0 && /Observation/.test(r.stdout);
  return { ok, why: `smart-fetch ${argv.join(" ")}: exit ${r.code}: ${r.stderr}` };
}

Deno.test("the README's bulk and export examples parse (run with --type help, no server)", async () => {
  const examples = runExamples(README);
  assert.ok(examples.filter((argv) => argv[0] === "bulk").length >= 3, "bulk examples found");
  assert.ok(examples.filter((argv) => argv[0] === "export").length >= 3, "export examples found");
  // Examples with a config file get the README's own TOML example.
  const toml = /```toml\n([\s\S]*?)```/.exec(README);
  assert.ok(toml, "the README shows a config file");
  await using dir = await tempDir();
  const config = join(dir.path, "ehr.toml");
  await Deno.writeTextFile(config, toml[1]!);
  for (const argv of examples) {
    const { ok, why } = await parses(argv, config);
    assert.ok(ok, why);
  }
  // The same check fails for an example with a wrong flag or value.
  const [bad1, bad2] = runExamples(
    "```sh\nsmart-fetch bulk --fhir-url https://x.example/fhir --typ X ./out\n" +
      "smart-fetch bulk --fhir-url https://x.example/fhir --since-mode sometimes ./out\n```\n",
  );
  assert.equal((await parses(bad1!)).ok, false, "--typ is refused");
  assert.equal((await parses(bad2!)).ok, false, "--since-mode sometimes is refused");
});
