/** The command line: subcommands, their flags and help, wired to the command functions. */

import { Command, Option } from "commander";
import { type BulkFlags, runBulk } from "../commands/bulk.ts";
import { type BundleFlags, runBundle } from "../commands/bundle.ts";
import { type CohortSplitFlags, parseGroupSize, runCohortSplit } from "../commands/cohort.ts";
import type { CommandContext } from "../commands/bulk_run.ts";
import { type CrawlCommandFlags, runCrawlCommand } from "../commands/crawl.ts";
import { type ExportFlags, runExport } from "../commands/export.ts";
import {
  DEFAULT_MIMETYPES,
  type HydrateFlags,
  parseSize,
  runHydrate,
} from "../commands/hydrate.ts";
import { HYDRATION_TASKS } from "../commands/hydration_tasks.ts";
import { runResetSymlinks } from "../commands/reset_symlinks.ts";
import { runSingle, type SingleFlags } from "../commands/single.ts";
import { runStatus, type StatusFlags } from "../commands/status.ts";
import { runVerify, type VerifyFlags } from "../commands/verify.ts";
import { NOTE_CODES, PROBLEM_CODES } from "../verify/problems.ts";
import { VERSION } from "../version.ts";
import { installConfig, withoutConfig } from "./config_file.ts";
import {
  addAuthOptions,
  addCommonOptions,
  addOutputOptions,
  addServerOptions,
  addSinceOptions,
  addTypeOptions,
  envName,
} from "./options.ts";
import { parseDuration } from "./parsers.ts";

/** What the program needs from main. */
export interface ProgramContext {
  /** Makes the command context once the flags are known (verbosity decides the reporter). */
  context: (verbose: boolean) => CommandContext;
  /** Receives the exit code of the command that ran. */
  setExitCode: (code: number) => void;
  /** Where commander writes help and its own errors. */
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
  /** Width help text is wrapped to. @default 80 */
  helpWidth?: number;
}

const EXIT_CODES = `
Exit codes: 0 done; 1 failed, rerun the same command to resume; 2 bad usage;
3 done, but the server reported errors (see error/); 4 folder in use by another
run; 5 refused by the server (fix the request, credentials or server first);
70 a bug in smart-fetch; 130 interrupted, rerun to resume. Retry 1, 4 and 130.
`;

const TOP_EXAMPLES = `
Run "smart-fetch <command> --help" for a command's flags.

Examples:
  A managed export of a Group, resumable, one numbered subfolder per export:
  $ smart-fetch export --fhir-url https://ehr.example.org/fhir --group cohort1 \\
      --smart-client-id client.txt --smart-key private.jwks /output/root/cohort1
  A cohort of MRNs from an ID file, exported by per-patient searches:
  $ smart-fetch export --fhir-url https://ehr.example.org/fhir \\
      --nickname initial --id-system urn:oid:1.2.840.114350 \\
      --id-file MRN-123 /output/root/MRN-123
  Where many export folders stand:
  $ smart-fetch status /output/root/*
`;

const BULK_EXAMPLES = `
Examples:
  $ smart-fetch bulk --fhir-url https://ehr.example.org/fhir --group cohort1 ./cohort1
  $ smart-fetch bulk --fhir-url https://ehr.example.org/fhir --type Patient,Condition \\
      --smart-client-id client.txt --smart-key private.jwks ./out
  $ smart-fetch bulk --fhir-url https://ehr.example.org/fhir --cancel ./out

Run the same command again to resume after any interruption: finished files are kept.
${EXIT_CODES}`;

const EXPORT_EXAMPLES = `
Examples:
  $ smart-fetch export --fhir-url https://ehr.example.org/fhir --group cohort1 ./cohort1
  $ smart-fetch export --fhir-url https://ehr.example.org/fhir --group cohort1 --since auto ./cohort1
  $ smart-fetch export --fhir-url https://ehr.example.org/fhir --group cohort1 --nickname 2026-03 ./cohort1

Each export goes into a numbered subfolder (NNN.<nickname or date>); rerunning the same
command resumes it, and is a no-op once it is complete: use a new --nickname to refresh.
${EXIT_CODES}`;

function command(pc: ProgramContext, name: string, description: string): Command {
  return new Command(name)
    .description(description)
    // SMART Fetch takes --version on every command.
    .version(`smart-fetch ${VERSION}`, "--version", "print the version")
    .configureOutput({ writeOut: pc.writeOut, writeErr: pc.writeErr })
    .configureHelp(helpConfig(pc))
    .exitOverride();
}

/** Help wrapped to the width (narrow columns too), commands listed with their real usage. */
function helpConfig(pc: ProgramContext) {
  return {
    helpWidth: pc.helpWidth ?? 80,
    minWidthToWrap: 20,
    subcommandTerm: (cmd: Command) => `${cmd.name()} ${cmd.usage()}`,
  };
}

/** `--kickoff` and `--max-wait`, for commands that run bulk exports. */
function addBulkRunOptions(cmd: Command): void {
  cmd.addOption(
    new Option("--kickoff <method>", "kick-off with GET or POST (GET falls back to POST on 405)")
      .choices(["get", "post"]).default("get").env(envName("--kickoff")),
  );
  cmd.addOption(
    new Option("--max-wait <duration>", "give up waiting for the server after this long")
      .argParser(parseDuration).default(30 * 86_400_000, "30d").env(envName("--max-wait")),
  );
}

function groupOption(): Option {
  return new Option("--group <id>", "export this FHIR Group (Group/<id>/$export)").env(
    envName("--group"),
  );
}

/** Registers the action: the command's flags (plus a global --verbose) go to `run`. */
function act<F extends { verbose?: boolean }, A = string | undefined>(
  pc: ProgramContext,
  cmd: Command,
  run: (arg: A, flags: F, ctx: CommandContext) => Promise<number>,
): void {
  cmd.action(async (arg: A, flags: F, self: Command) => {
    const verbose = !!(flags.verbose || self.parent?.opts().verbose);
    pc.setExitCode(await run(arg, { ...flags, verbose }, pc.context(verbose)));
  });
}

function bulkCommand(pc: ProgramContext): Command {
  const bulk = command(pc, "bulk", "run one FHIR bulk export into a plain folder (resumable)")
    .argument("[output-dir]", "folder to write into (created if missing)")
    // Required, but checked by the command itself so that `--type help` needs no folder.
    .usage("[options] <output-dir>")
    .addHelpText("after", BULK_EXAMPLES);
  addServerOptions(bulk);
  addAuthOptions(bulk);
  bulk.addOption(groupOption());
  bulk.addOption(
    new Option(
      "--patient-level",
      "export all patients (Patient/$export) instead of the whole system",
    ),
  );
  addTypeOptions(bulk);
  addSinceOptions(bulk, false);
  addOutputOptions(bulk);
  addBulkRunOptions(bulk);
  bulk.addOption(
    new Option("--cancel", "cancel the export in progress in this folder (DELETE on the server)"),
  );
  bulk.addOption(bundleOption());
  addCommonOptions(bulk);
  act<BulkFlags & { verbose?: boolean }>(pc, bulk, runBulk);
  return bulk;
}

function exportCommand(pc: ProgramContext): Command {
  const exp = command(
    pc,
    "export",
    "export into a managed folder that keeps every export (resumable)",
  )
    .argument("[output-dir]", "the managed folder (created if missing)")
    .usage("[options] <output-dir>")
    .addHelpText("after", EXPORT_EXAMPLES);
  addServerOptions(exp);
  addAuthOptions(exp);
  exp.addOption(groupOption());
  addCohortOptions(exp);
  addTypeOptions(exp);
  addSinceOptions(exp, true);
  exp.addOption(
    new Option(
      "--export-mode <mode>",
      "bulk export, or crawl (per-patient searches); auto: crawl for Epic",
    )
      .choices(["auto", "bulk", "crawl"]).default("auto").env(envName("--export-mode")),
  );
  exp.addOption(
    new Option("--nickname <name>", "name of the export's subfolder (default: today's date)")
      .env(envName("--nickname")),
  );
  exp.addOption(
    new Option(
      "--hydration-tasks <names>",
      "hydration task groups run after the export, 'all' (default), 'none' or 'help'",
    )
      .env(envName("--hydration-tasks")),
  );
  addOutputOptions(exp);
  addBulkRunOptions(exp);
  addCommonOptions(exp);
  act<ExportFlags & { verbose?: boolean }>(pc, exp, runExport);
  return exp;
}

/** `--group-nickname`, `--id-file`, `--id-list`, `--id-system` and their old names. */
function addCohortOptions(cmd: Command): void {
  cmd.addOption(
    new Option("--group-nickname <name>", "the cohort's name in log.ndjson when there is no Group")
      .env(envName("--group-nickname")),
  );
  cmd.addOption(
    new Option(
      "--id-file <path>",
      "cohort of patients: a text file (one ID per line) or a CSV with an id or mrn column",
    )
      .env(envName("--id-file")),
  );
  cmd.addOption(
    new Option("--id-list <ids>", "cohort of patients: comma-separated IDs").env(
      envName("--id-list"),
    ),
  );
  cmd.addOption(
    new Option(
      "--id-system <system>",
      "identifier system of the IDs (MRNs); default: FHIR Patient ids",
    )
      .env(envName("--id-system")),
  );
  cmd.addOption(new Option("--mrn-file <path>", "old name of --id-file"));
  cmd.addOption(new Option("--mrn-system <system>", "old name of --id-system"));
}

const CRAWL_EXAMPLES = `
Examples:
  $ smart-fetch crawl --fhir-url https://ehr.example.org/fhir --id-system urn:oid:1.2.3 \\
      --id-file MRN-123 ./MRN-123
  $ smart-fetch crawl --fhir-url https://ehr.example.org/fhir --group cohort1 ./cohort1

Each patient's resources are found by FHIR searches (Type?patient=<id>), every connection
busy. Run the same command again to resume after any interruption: finished searches are kept.
${EXIT_CODES}`;

function crawlCommand(pc: ProgramContext): Command {
  const crawl = command(
    pc,
    "crawl",
    "crawl per-patient FHIR searches into a plain folder (resumable)",
  )
    .argument("[output-dir]", "folder to write into (created if missing)")
    .usage("[options] <output-dir>")
    .addHelpText("after", CRAWL_EXAMPLES);
  addServerOptions(crawl);
  addAuthOptions(crawl);
  crawl.addOption(groupOption());
  addCohortOptions(crawl);
  crawl.addOption(
    new Option(
      "--source-dir <dir>",
      "folder whose Patient files give the cohort (default: the output folder)",
    ).env(envName("--source-dir")),
  );
  addTypeOptions(crawl);
  addSinceOptions(crawl, false);
  addOutputOptions(crawl);
  addBulkRunOptions(crawl);
  crawl.addOption(bundleOption());
  addCommonOptions(crawl);
  act<CrawlCommandFlags & { verbose?: boolean }>(pc, crawl, runCrawlCommand);
  return crawl;
}

/** `--bundle` of `bulk` and `crawl`. */
function bundleOption(): Option {
  return new Option(
    "--bundle",
    "when done, merge the NDJSON files into one Bundle.json.gz (removing them), as 'bundle' does",
  );
}

const SINGLE_EXAMPLES = `
Examples:
  $ smart-fetch single --fhir-url https://ehr.example.org/fhir Patient/123
  $ smart-fetch single --fhir-url https://ehr.example.org/fhir --compact "Observation?patient=123"
  $ smart-fetch single --fhir-url https://ehr.example.org/fhir --binary Binary/456 > note.pdf
`;

function singleCommand(pc: ProgramContext): Command {
  const single = command(pc, "single", "GET one resource or search and print its JSON")
    .argument(
      "[path]",
      "path relative to --fhir-url: Type/id, or a search such as Type?param=value",
    )
    .usage("[options] <path>")
    .addHelpText("after", SINGLE_EXAMPLES);
  addServerOptions(single);
  addAuthOptions(single);
  single.addOption(new Option("--compact", "print the JSON on one line, without whitespace"));
  single.addOption(
    new Option("--binary", "print the decoded data of a Binary resource as raw bytes")
      .conflicts("compact"),
  );
  addCommonOptions(single);
  act<SingleFlags & { verbose?: boolean }>(pc, single, runSingle);
  return single;
}

const BUNDLE_EXAMPLES = `
Examples:
  $ smart-fetch bundle ./out
  $ smart-fetch bundle --no-compression ./out

Needs no server. The Bundle is written completely before any NDJSON file is
removed. Like SMART Fetch's bundle, it reads no config file.
`;

function bundleCommand(pc: ProgramContext): Command {
  const bundle = command(
    pc,
    "bundle",
    "merge a folder's NDJSON files into one Bundle.json.gz, then remove them",
  )
    .argument("[dir]", "folder whose top-level .ndjson(.gz) and .jsonl(.gz) files are merged")
    .usage("[options] <dir>")
    .addHelpText("after", BUNDLE_EXAMPLES);
  bundle.addOption(
    new Option("--no-compression", "write plain Bundle.json instead of Bundle.json.gz"),
  );
  // -c as on every command, so shared scripts work; like SMART Fetch, bundle never reads it.
  bundle.addOption(
    new Option("-c, --config <file>", "accepted and ignored: bundle reads no config file"),
  );
  bundle.addOption(new Option("-v, --verbose", "show stack traces"));
  withoutConfig(bundle);
  act<BundleFlags & { verbose?: boolean }>(pc, bundle, runBundle);
  return bundle;
}

/** `--mimetypes` and `--max-attachment-size`, for inlining. */
function addInlineOptions(cmd: Command): void {
  cmd.addOption(
    new Option(
      "--mimetypes <list>",
      `attachment mimetypes to inline, comma-separated (default: ${DEFAULT_MIMETYPES})`,
    ).env(envName("--mimetypes")),
  );
  cmd.addOption(
    new Option("--max-attachment-size <size>", "skip (and report) attachments bigger than this")
      .argParser(parseSize).default(50 * 1024 * 1024, "50MB").env(envName("--max-attachment-size")),
  );
}

const HYDRATE_EXAMPLES = `
Examples:
  $ smart-fetch hydrate --fhir-url https://ehr.example.org/fhir --tasks all ./cohort1/001.initial
  $ smart-fetch hydrate --fhir-url https://ehr.example.org/fhir --tasks practitioner,location ./out
  $ smart-fetch inline --fhir-url https://ehr.example.org/fhir ./notes

Task groups: ${HYDRATION_TASKS.join(", ")} (or all, none, help). Each file is rewritten under a
temporary name and renamed when complete: an interruption never loses a row. Rerun to continue.
${EXIT_CODES}`;

function hydrateCommand(pc: ProgramContext): Command {
  const hydrate = command(
    pc,
    "hydrate",
    "inline clinical notes and download the resources a folder references",
  )
    .argument("[output-dir]", "the folder to hydrate (its NDJSON files)")
    .usage("[options] <output-dir>")
    .addHelpText("after", HYDRATE_EXAMPLES);
  addServerOptions(hydrate);
  addAuthOptions(hydrate);
  hydrate.addOption(
    new Option("--tasks <names>", "task groups, comma-separated, 'all', 'none' or 'help'")
      .default("all").env(envName("--tasks")),
  );
  hydrate.addOption(
    new Option(
      "--source-dir <dir>",
      "read the inputs of reference tasks from here (default: the folder itself)",
    ).env(envName("--source-dir")),
  );
  addInlineOptions(hydrate);
  addOutputOptions(hydrate);
  addCommonOptions(hydrate);
  act<HydrateFlags & { verbose?: boolean }>(
    pc,
    hydrate,
    (dir, flags, ctx) => runHydrate(dir, flags, ctx),
  );
  return hydrate;
}

function inlineCommand(pc: ProgramContext): Command {
  const inline = command(
    pc,
    "inline",
    "download clinical notes into the NDJSON of any folder (hydrate --tasks inline)",
  )
    .argument("[dir]", "the folder whose DocumentReference and DiagnosticReport files to inline")
    .usage("[options] <dir>")
    .addHelpText("after", HYDRATE_EXAMPLES);
  addServerOptions(inline);
  addAuthOptions(inline);
  addInlineOptions(inline);
  addCommonOptions(inline);
  act<HydrateFlags & { verbose?: boolean }>(
    pc,
    inline,
    (dir, flags, ctx) => runHydrate(dir, { ...flags, compression: true }, ctx, ["inline"]),
  );
  return inline;
}

const COHORT_EXAMPLES = `
Examples:
  $ smart-fetch cohort split mrns.csv --size 10000 --into groups
  Next quarter, with the new list (groups keep their MRNs; new MRNs go in new groups):
  $ smart-fetch cohort split mrns-2027q1.csv --size 10000 --into groups

Group files are text, one ID per line, named <prefix>000, <prefix>001, ...: give one to
export --id-file. MRNs that left the list are removed from their group, so its next export
reports them deleted. Groups are never renumbered. Needs no server.
`;

function cohortCommand(pc: ProgramContext): Command {
  const cohort = command(pc, "cohort", "manage cohorts of patient IDs (see: cohort split)");
  const split = command(
    pc,
    "split",
    "split an MRN list into numbered group files, stable across refreshes",
  )
    .argument("[mrn-file]", "text file (one ID per line) or CSV with an id or mrn column")
    .usage("[options] <mrn-file> --size <n> --into <dir>")
    .addHelpText("after", COHORT_EXAMPLES);
  split.addOption(
    new Option("--size <n>", "most IDs in a new group").argParser(parseGroupSize).default(10000),
  );
  split.addOption(new Option("--into <dir>", "the folder of group files (created if missing)"));
  split.addOption(new Option("--prefix <text>", "group file name prefix").default("MRN-"));
  split.addOption(new Option("--dry-run", "print what would change, write nothing"));
  addCommonOptions(split);
  act<CohortSplitFlags & { verbose?: boolean }>(pc, split, runCohortSplit);
  cohort.addCommand(split);
  return cohort;
}

function resetSymlinksCommand(pc: ProgramContext): Command {
  const reset = command(
    pc,
    "reset-symlinks",
    "rebuild a managed folder's top-level links to the active files",
  )
    .argument("[output-dir]", "the managed folder")
    .usage("[options] <output-dir>");
  addCommonOptions(reset);
  act(pc, reset, (dir, _flags, ctx) => runResetSymlinks(dir, ctx));
  return reset;
}

function statusCommand(pc: ProgramContext): Command {
  const status = command(pc, "status", "show where many export folders stand (reads metadata only)")
    .argument("[dirs...]", "managed or output folders (shell globs welcome)")
    .usage("[options] <dirs...>")
    .addOption(new Option("--json", "print JSON for scripts"))
    .addOption(
      new Option(
        "--unfinished",
        "print only the numbers of the folders not complete, as a list for sbatch --array",
      ).conflicts("json"),
    );
  addCommonOptions(status);
  act<StatusFlags & { verbose?: boolean }, string[]>(pc, status, runStatus);
  return status;
}

/** Problem (or note) codes, comma-separated and wrapped, for `verify --help`. */
function problemCodeList(codes: Record<string, string>, width = 76): string {
  const lines: string[] = [];
  let line = " ";
  for (const code of Object.keys(codes)) {
    if (line.length + code.length + 2 > width) {
      lines.push(line + ",");
      line = " ";
    } else if (line !== " ") line += ",";
    line += " " + code;
  }
  return [...lines, line].join("\n");
}

const VERIFY_EXAMPLES = `
Examples:
  $ smart-fetch verify /output/root/cohort1
  $ smart-fetch verify /output/root/*
  $ smart-fetch verify --json ./out | jq '.folders[] | select(.ok | not) | .path'

Checks, without the network, what Cumulus ETL will read: every data file decompresses
fully, every line is a JSON object of its file's type with an id, ids are unique per type
in each export, counts match log.ndjson and the manifest, no temporary file is left, links
lead to files of their type, log.ndjson has what the ETL needs, deleted/ holds DELETE
transaction Bundles, and base names are unique for the ETL's flat copy. A managed folder's
numbered subfolders are each checked as the export the ETL is pointed at. Blank lines are
skipped, as the ETL does. One line per problem: <file>:<line>: <what is wrong> [code]
(at most 20 per file, then "and N more"), then notes, which do not fail verify
(<file>: note: <what the ETL will do> [code]), then a summary line.

--json prints {"ok", "folders": [{"path", "kind", "ok", "files", "resources", "bytes",
"problemCount", "problems": [{"file", "line"?, "code", "message", "count"?}],
"notes": [{"file", "code", "message"}]}], "summary"}.

Problem codes:
${problemCodeList(PROBLEM_CODES)}

Note codes:
${problemCodeList(NOTE_CODES)}

Exit codes: 0 every folder is whole; 1 problems were found; 2 a folder is missing or is
not an export folder (nothing was checked).
`;

function verifyCommand(pc: ProgramContext): Command {
  const verify = command(
    pc,
    "verify",
    "check, offline, that export folders are whole and read right by Cumulus ETL",
  )
    .argument("[dirs...]", "managed or output folders")
    .usage("[options] <dirs...>")
    .addOption(new Option("--json", "print one JSON document for scripts"))
    .addHelpText("after", VERIFY_EXAMPLES);
  addCommonOptions(verify);
  act<VerifyFlags & { verbose?: boolean }, string[]>(pc, verify, runVerify);
  return verify;
}

/** Builds the commander program. */
export function buildProgram(pc: ProgramContext): Command {
  const program = new Command("smart-fetch")
    .description("Export clinical data from FHIR servers into folders for research pipelines.")
    .version(`smart-fetch ${VERSION}`, "--version", "print the version")
    .configureOutput({ writeOut: pc.writeOut, writeErr: pc.writeErr })
    .configureHelp(helpConfig(pc))
    .exitOverride()
    .showSuggestionAfterError(true)
    .addHelpText("after", TOP_EXAMPLES);
  addCommonOptions(program);
  program.addCommand(exportCommand(pc));
  program.addCommand(bulkCommand(pc));
  program.addCommand(crawlCommand(pc));
  program.addCommand(singleCommand(pc));
  program.addCommand(bundleCommand(pc));
  program.addCommand(hydrateCommand(pc));
  program.addCommand(inlineCommand(pc));
  program.addCommand(statusCommand(pc));
  program.addCommand(verifyCommand(pc));
  program.addCommand(cohortCommand(pc));
  program.addCommand(resetSymlinksCommand(pc));
  // --config FILE for every subcommand above, and any added later (see config_file.ts).
  installConfig(program);
  return program;
}
