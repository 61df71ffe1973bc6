/**
 * Our commands take every flag SMART Fetch's do, so users' scripts keep working. The list is
 * `testdata/smart_fetch_flags.json` ({command: [flags]}), written from section a of the
 * SMART Fetch reference; when the reference is beside the repository
 * (`../shared/reference/smart-fetch-behaviour.md`), the list is also derived from it again, so
 * the two cannot drift apart.
 */

import assert from "node:assert/strict";
import { commandNames, definedFlags, helpOf } from "./helpers/help_flags.ts";

/** SMART Fetch's flags per command. */
type FlagList = Record<string, string[]>;

const FIXTURE: FlagList = JSON.parse(
  await Deno.readTextFile(new URL("../testdata/smart_fetch_flags.json", import.meta.url)),
);

const REFERENCE = new URL("../../shared/reference/smart-fetch-behaviour.md", import.meta.url);
const reference = await Deno.readTextFile(REFERENCE).catch(() => undefined);

/**
 * SMART Fetch flags we knowingly lack, with the reason. The test fails once one of them exists,
 * so this list only ever shrinks.
 */
const KNOWN_GAPS: { flag: string; commands: "all" | string[]; why: string }[] = [];

function isKnownGap(command: string, flag: string): boolean {
  return KNOWN_GAPS.some((g) =>
    g.flag === flag && (g.commands === "all" || g.commands.includes(command))
  );
}

// ---- Reading the reference's section a --------------------------------------------------

/** The flags in the inline code spans of `text`: `--x ARG` gives `--x`, `--config/-c` both. */
function codeFlags(text: string): string[] {
  const out: string[] = [];
  for (const span of text.matchAll(/`([^`\n]+)`/g)) {
    for (const m of span[1]!.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])/g)) {
      out.push(m[1]!);
    }
  }
  return out;
}

/**
 * The flags prose names as flags of its command: a flag is left out when its clause (the text
 * since the last `,;:.()`) says "no" or "not" before it ("No `--mimetypes` on export", "Does
 * not load `--config`").
 */
function proseFlags(text: string): string[] {
  const out: string[] = [];
  let clause = "";
  for (const piece of text.split(/(`[^`\n]+`)/)) {
    if (piece.startsWith("`")) {
      if (!/\b(no|not)\b/i.test(clause)) out.push(...codeFlags(piece));
      clause += piece;
    } else {
      const parts = piece.split(/[,;:.()]/);
      clause = parts.length > 1 ? parts.at(-1)! : clause + piece;
    }
  }
  return out;
}

/** The flags of a Markdown table: its first column, header row aside. */
function tableFlags(rows: string[]): string[] {
  return rows.slice(2).flatMap((row) => codeFlags(row.split("|")[1] ?? ""));
}

/** Section a's flags per command, derived from the reference text. */
function deriveFlags(markdown: string): FlagList {
  const section = /^## a\..*$([\s\S]*?)^## /m.exec(markdown)?.[1];
  assert.ok(section, "the reference has a section a");
  const commandsLine = /Subcommands: ([^.]*)\./.exec(section)?.[1] ?? "";
  const commands = [...commandsLine.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!);
  assert.ok(commands.length > 0, "the section names its subcommands");
  const out: Record<string, Set<string>> = Object.fromEntries(
    commands.map((c) => [c, new Set<string>()]),
  );
  const add = (names: string[], flags: string[]) => {
    for (const name of names) for (const f of flags) out[name]?.add(f);
  };

  // "Every subcommand also accepts `--version`, `--config/-c` and `--verbose/-v`".
  const every = /Every subcommand also accepts ([^.]*)/.exec(section)?.[1] ?? "";
  add(commands, codeFlags(every));

  // Shared groups: "**authentication** (on export, bulk, ...)" and the table under it, and
  // single flags introduced the same way: "`--no-compression` (on export, bulk, ...)".
  const on = (list: string) => list.split(/,\s*/).map((c) => c.trim());
  for (const m of section.matchAll(/^\*\*[^*]+\*\* \(on ([^)]+)\)\s*\n\n((?:\|.*\n)+)/gm)) {
    add(on(m[1]!), tableFlags(m[2]!.trimEnd().split("\n")));
  }
  for (const m of section.matchAll(/^(`--[^`]+`) \(on ([^)]+)\)/gm)) {
    add(on(m[2]!), codeFlags(m[1]!));
  }

  // Each command's own section: its tables' first column and the flags its prose names.
  for (const part of section.split(/^### /m).slice(1)) {
    const name = /^`([a-z-]+)/.exec(part)?.[1];
    if (!name || !(name in out)) continue;
    const body = part.slice(part.indexOf("\n") + 1);
    const tables: string[][] = [];
    const prose: string[] = [];
    for (const block of body.split(/\n{2,}/)) {
      if (block.trimStart().startsWith("|")) tables.push(block.trim().split("\n"));
      else prose.push(block.replace(/\n/g, " "));
    }
    add([name], tables.flatMap(tableFlags));
    add([name], prose.flatMap(proseFlags));
  }
  return Object.fromEntries(Object.entries(out).map(([c, s]) => [c, [...s].sort()]));
}

// ---- Tests --------------------------------------------------------------------------------

Deno.test("reading the reference: groups, per-command tables, prose, and negated mentions", () => {
  const md = [
    "## a. Commands",
    "",
    "Subcommands: `one`, `two`,",
    "`three`. Every subcommand also accepts `--version` and `--verbose/-v`",
    "(so `-v` works).",
    "",
    "**authentication** (on one, three)",
    "",
    "| flag | default |",
    "|---|---|",
    "| `--fhir-url URL` | none; `--not-this` |",
    "| `--mrn-file`, `--mrn-system` | hidden |",
    "",
    "`--no-compression` (on two, three): plain files.",
    "",
    "### `one DIR` — first",
    "",
    "`--group`, `--since` (no `auto` support: `--not-auto`), `--since-mode`.",
    "No `--mimetypes` and no `--source-dir` on one. Does not load `--config`.",
    "",
    "### `two DIR`",
    "",
    "| flag | meaning |",
    "|---|---|",
    "| `--tasks NAMES` | task groups, see `--hidden` |",
    "",
    "### Validation messages",
    "",
    "- `--type help` still requires `--fhir-url`.",
    "",
    "## b. Next",
    "",
  ].join("\n");
  const common = ["--verbose", "--version", "-v"];
  assert.deepEqual(deriveFlags(md), {
    one: [
      "--fhir-url",
      "--group",
      "--mrn-file",
      "--mrn-system",
      "--not-auto",
      "--since",
      "--since-mode",
      ...common,
    ].sort(),
    two: ["--no-compression", "--tasks", ...common].sort(),
    three: ["--fhir-url", "--mrn-file", "--mrn-system", "--no-compression", ...common].sort(),
  });
});

Deno.test({
  name: reference === undefined
    ? "testdata/smart_fetch_flags.json matches the reference (SKIPPED: ../shared/reference/smart-fetch-behaviour.md not found)"
    : "testdata/smart_fetch_flags.json matches section a of the SMART Fetch reference",
  ignore: reference === undefined,
  fn() {
    assert.deepEqual(
      deriveFlags(reference!),
      FIXTURE,
      "section a changed: update testdata/smart_fetch_flags.json (and our flags) to match",
    );
  },
});

Deno.test("every SMART Fetch flag is a flag of our command of the same name", async (t) => {
  const ours = new Set(await commandNames());
  for (const [command, flags] of Object.entries(FIXTURE)) {
    const present = ours.has(command);
    await t.step({
      name: present ? command : `${command} (IGNORED: smart-fetch has no ${command} command yet)`,
      ignore: !present,
      fn: async () => {
        const defined = definedFlags(await helpOf([command]));
        const missing = flags.filter((f) => !defined.has(f) && !isKnownGap(command, f));
        assert.deepEqual(missing, [], `smart-fetch ${command} lacks SMART Fetch's ${missing}`);
        const closed = flags.filter((f) => defined.has(f) && isKnownGap(command, f));
        assert.deepEqual(closed, [], `${closed} now exist on ${command}: shrink KNOWN_GAPS`);
      },
    });
  }
});
