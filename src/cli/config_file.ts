/**
 * `--config FILE`: flags from a TOML file, for every command. Precedence: defaults < config file <
 * environment variable < command line. Installed once on the program as a `preAction` hook, so
 * each subcommand (including ones added later) gets it with no code of its own; values go through
 * the flag's own parser and choices, so a file is validated exactly like the command line.
 * SMART Fetch silently ignores unknown keys; we name them and suggest the flag meant.
 */

import { dirname, isAbsolute, join, resolve } from "node:path";
import type { Command, Option } from "commander";
import { parse, TomlDate, TomlError } from "smol-toml";
import { ConfigError, errorMessage } from "../errors.ts";
import { collect } from "./parsers.ts";

/**
 * Keys whose relative paths are read relative to the config file's folder, when such a file
 * exists there (the secret flags take "a path, or the literal value", so a value naming no file
 * is kept as it is).
 */
export const PATH_KEYS: ReadonlySet<string> = new Set([
  "smart-key",
  "bulk-smart-key",
  "basic-passwd",
  "bearer-token",
  "smart-client-id",
  "bulk-smart-client-id",
  "id-file",
  "mrn-file",
]);

/** Keys whose values are never shown in a message. */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  "basic-passwd",
  "bearer-token",
  "smart-client-id",
  "bulk-smart-client-id",
]);

/** Keys that may hold an inline private key (JWKS JSON), secret in that case. */
const KEY_KEYS: ReadonlySet<string> = new Set(["smart-key", "bulk-smart-key"]);

/** Flags that make no sense inside a config file. */
/** Keys that are actions, not settings: a shared file must never cancel an export by surprise. */
const NOT_SETTINGS: ReadonlySet<string> = new Set(["config", "help", "version", "cancel"]);

/** What a file key sets: an option, and whether a boolean key means the opposite (`no-x`). */
interface Target {
  option: Option;
  invert: boolean;
}

/** A parsed config file: top-level keys and their TOML values. */
export type ConfigTable = Record<string, unknown>;

/** Options of {@linkcode applyConfig}. */
export interface ApplyConfigOptions {
  /** The file name shown in messages, as the user gave it. */
  file: string;
  /**
   * Folder that relative paths of {@linkcode PATH_KEYS} are resolved against.
   * @default the folder of `file`
   */
  baseDir?: string;
  /**
   * Keys accepted but ignored when `command` has no such flag (one file serves every command).
   * @default the flags of every command of the program `command` belongs to
   */
  knownKeys?: ReadonlySet<string>;
}

/** Commands that accept `--config` but never read it (see {@linkcode withoutConfig}). */
const IGNORES_CONFIG = new WeakSet<Command>();

/**
 * Marks a command whose flags never come from a config file (SMART Fetch's `bundle`: it needs
 * no server, and a file shared with exports must not switch its compression).
 */
export function withoutConfig(command: Command): Command {
  IGNORES_CONFIG.add(command);
  return command;
}

/** Installs config file handling on the program: one `preAction` hook for every subcommand. */
export function installConfig(program: Command): Command {
  return program.hook("preAction", async (_program, actionCommand) => {
    if (IGNORES_CONFIG.has(actionCommand)) return;
    const file = configPath(actionCommand);
    if (file === undefined) return;
    applyConfig(actionCommand, await readConfigFile(file), { file });
  });
}

/**
 * The `--config` value in effect for the running command: one given on the command line (before
 * or after the subcommand; the last one wins, as commander keeps it) beats `SMART_FETCH_CONFIG`.
 */
export function configPath(command: Command): string | undefined {
  const chain: Command[] = [];
  for (let c: Command | null = command; c; c = c.parent) chain.push(c);
  const withValue = chain.filter((c) => typeof c.getOptionValue("config") === "string");
  const chosen = withValue.find((c) => c.getOptionValueSource("config") === "cli") ?? withValue[0];
  return chosen?.getOptionValue("config") as string | undefined;
}

/** Reads and parses a TOML config file; every failure is a one-line ConfigError. */
export async function readConfigFile(file: string): Promise<ConfigTable> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Deno.errors.IsADirectory
      ? "it is a folder"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : errorMessage(err).split("\n")[0];
    throw new ConfigError(`Cannot read config file "${file}": ${why}.`);
  }
  try {
    return parse(text) as ConfigTable;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // Only smol-toml's first line: the code excerpt after it could show a secret.
    let why = err.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    // smol-toml calls the newline that ends an unclosed string a "control character".
    const line = (text.split("\n")[err.line - 1] ?? "").replace(/\r$/, "");
    if (/control characters/.test(why) && err.column > line.length) {
      why = "unterminated string (no closing quote before the end of the line)";
    }
    throw new ConfigError(
      `Config file "${file}" is not valid TOML: line ${err.line}, column ${err.column}: ${why}.`,
    );
  }
}

/**
 * Sets `command`'s flags from a parsed config file where neither the command line nor the
 * environment set them (commander value source "config"). Throws ConfigError on a nested table,
 * `config` itself, an unknown key, the same flag set twice, or a value the flag's parser refuses.
 */
export function applyConfig(command: Command, table: ConfigTable, options: ApplyConfigOptions) {
  const { file } = options;
  const baseDir = options.baseDir ?? dirname(resolve(file));
  const known = options.knownKeys ?? new Set(allCommands(rootOf(command)).flatMap(keysOf));
  const targets = targetsOf(command);
  const unknown: string[] = [];
  const settings: [string, Target, unknown][] = [];
  const seen = new Map<string, string>();
  for (const [rawKey, value] of Object.entries(table)) {
    const key = canonical(rawKey);
    if (isTable(value)) {
      throw new ConfigError(
        `Config file "${file}": "${rawKey}" is a table, but flags go at the top level as key = value (no [sections] or { } tables).`,
      );
    }
    if (Array.isArray(value) && value.some(isTable)) {
      throw new ConfigError(
        `Config file "${file}": "${rawKey}" is a list of tables, but flags go at the top level as key = value.`,
      );
    }
    if (NOT_SETTINGS.has(key)) {
      throw new ConfigError(
        `Config file "${file}": "${rawKey}" cannot be set in a config file${
          key === "config"
            ? " (config files do not include other files)"
            : key === "cancel"
            ? " (it is an action: give --cancel on the command line)"
            : ""
        }.`,
      );
    }
    const target = targets.get(key);
    if (!target) {
      if (!known.has(key)) unknown.push(rawKey);
      continue;
    }
    const attribute = target.option.attributeName();
    const earlier = seen.get(attribute);
    if (earlier !== undefined) {
      throw new ConfigError(
        `Config file "${file}": "${earlier}" and "${rawKey}" set the same flag; keep one.`,
      );
    }
    seen.set(attribute, rawKey);
    settings.push([rawKey, target, value]);
  }
  if (unknown.length) {
    const names = unknown.map((k) => {
      const near = closest(k, known);
      return `"${k}"${near ? ` (did you mean "${near}"?)` : ""}`;
    });
    throw new ConfigError(
      `Config file "${file}": unknown ${unknown.length > 1 ? "keys" : "key"} ${
        names.join(", ")
      }. Keys are flag names without "--", such as fhir-url.`,
    );
  }
  for (const [rawKey, target, value] of settings) {
    const parsed = parseSetting(rawKey, target, value, { file, baseDir });
    const attribute = target.option.attributeName();
    const source = command.getOptionValueSource(attribute);
    if (source === undefined || source === "default") {
      command.setOptionValueWithSource(attribute, parsed, "config");
    }
  }
}

/** `fhir_url` -> `fhir-url`. */
function canonical(key: string): string {
  return key.replaceAll("_", "-");
}

function isTable(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof TomlDate);
}

function rootOf(command: Command): Command {
  let c = command;
  while (c.parent) c = c.parent;
  return c;
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap((c) => allCommands(c as Command))];
}

/** The file keys of a command: each long flag without "--", and `x` for a lone `--no-x`. */
function targetsOf(command: Command): Map<string, Target> {
  const out = new Map<string, Target>();
  for (const option of command.options) {
    if (option.long) out.set(option.long.slice(2), { option, invert: option.negate });
  }
  for (const option of command.options) {
    const positive = option.negate ? option.long?.replace(/^--no-/, "") : undefined;
    if (positive && !out.has(positive)) out.set(positive, { option, invert: false });
  }
  return out;
}

function keysOf(command: Command): string[] {
  return [...targetsOf(command).keys()];
}

/** A flag that takes no value (`--verbose`, `--no-compression`). */
function isFlag(option: Option): boolean {
  return !option.required && !option.optional;
}

/** A flag that may be repeated, collecting a list (`--type`, `--type-filter`). */
function isRepeatable(option: Option): boolean {
  return option.variadic || option.parseArg === collect;
}

/** Turns one TOML value into the flag's value, as the command line would. */
function parseSetting(
  rawKey: string,
  target: Target,
  value: unknown,
  where: { file: string; baseDir: string },
): unknown {
  const { option, invert } = target;
  const key = canonical(rawKey);
  const bad = (expected: string) => {
    const secret = SECRET_KEYS.has(key) ||
      (KEY_KEYS.has(key) && !(typeof value === "string" && !value.trimStart().startsWith("{")));
    const shown = secret ? "(secret, not shown)" : show(value);
    return new ConfigError(
      `Config file "${where.file}": ${rawKey} = ${shown} is invalid. ${expected}`,
    );
  };
  if (isFlag(option)) {
    if (typeof value !== "boolean") throw bad("Expected true or false.");
    return invert ? !value : value;
  }
  const flag = `--${key} ${option.flags.replace(/^.*?(<|\[)/, "$1")}`;
  if (Array.isArray(value) && !isRepeatable(option)) {
    throw bad(`Expected one value (${flag} cannot be repeated), not a list.`);
  }
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) throw bad("Expected at least one value.");
  let result: unknown = option.defaultValue;
  for (const item of items) {
    let text: string;
    if (typeof item === "string") text = item;
    else if (typeof item === "number" || typeof item === "bigint") text = String(item);
    else if (item instanceof TomlDate) text = item.toISOString();
    else throw bad(`Expected text or a number, as for ${flag}.`);
    if (PATH_KEYS.has(key)) text = besideConfig(text, where.baseDir);
    if (option.argChoices && !option.argChoices.includes(text)) {
      throw bad(`Allowed choices are ${option.argChoices.join(", ")}.`);
    }
    try {
      if (option.parseArg) result = option.parseArg(text, result);
      else if (option.variadic) result = [...(Array.isArray(result) ? result : []), text];
      else result = text;
    } catch (err) {
      if ((err as { code?: string }).code !== "commander.invalidArgument") throw err;
      throw bad(errorMessage(err));
    }
  }
  return result;
}

/** A relative path that names a file beside the config file becomes that file's path. */
function besideConfig(value: string, baseDir: string): string {
  if (!value || isAbsolute(value) || value.trimStart().startsWith("{")) return value;
  const candidate = join(baseDir, value);
  try {
    return Deno.statSync(candidate).isFile ? candidate : value;
  } catch {
    return value;
  }
}

/** A TOML value as written, shortened. */
function show(value: unknown): string {
  const text = Array.isArray(value)
    ? `[${value.map(show).join(", ")}]`
    : typeof value === "string"
    ? JSON.stringify(value)
    : value instanceof TomlDate
    ? value.toISOString()
    : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The known key nearest to `key`, if it is near enough to be a typo. */
function closest(key: string, known: ReadonlySet<string>): string | undefined {
  const wanted = canonical(key).toLowerCase().replace(/^-+/, "");
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(wanted, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(wanted.length / 3)) ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, transpositions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + cost);
      }
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
