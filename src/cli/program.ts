/** The command line: subcommands, their flags and help, wired to the command functions. */

import { Command, Option } from "commander";
import { type BulkFlags, type CommandContext, runBulk } from "../commands/bulk.ts";
import { VERSION } from "../version.ts";
import {
  addAuthOptions,
  addCommonOptions,
  addOutputOptions,
  addServerOptions,
  addSinceOptions,
  addTypeOptions,
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
}

const BULK_EXAMPLES = `
Examples:
  $ smart-fetch bulk --fhir-url https://ehr.example.org/fhir --group cohort1 ./cohort1
  $ smart-fetch bulk --fhir-url https://ehr.example.org/fhir --type Patient,Condition \\
      --smart-client-id client.txt --smart-key private.jwks ./out
  $ smart-fetch bulk --fhir-url https://ehr.example.org/fhir --cancel ./out

Run the same command again to resume after any interruption: finished files are kept.
Exit codes: 0 done, 1 failed (rerun to resume), 2 bad usage, 3 done but the server
reported errors (see error/), 4 folder in use by another run, 130 interrupted.
`;

/** Builds the commander program. */
export function buildProgram(pc: ProgramContext): Command {
  const program = new Command("smart-fetch")
    .description("Export clinical data from FHIR servers into folders for research pipelines.")
    .version(`smart-fetch ${VERSION}`, "--version", "print the version")
    .configureOutput({ writeOut: pc.writeOut, writeErr: pc.writeErr })
    .exitOverride()
    .showSuggestionAfterError(true)
    .addHelpText("after", `\nRun "smart-fetch <command> --help" for a command's flags.\n`);
  addCommonOptions(program);

  const bulk = new Command("bulk")
    .description("run one FHIR bulk export into a plain folder (resumable)")
    .argument("[output-dir]", "folder to write into (created if missing)")
    .configureOutput({ writeOut: pc.writeOut, writeErr: pc.writeErr })
    .exitOverride()
    .addHelpText("after", BULK_EXAMPLES);
  addServerOptions(bulk);
  addAuthOptions(bulk);
  bulk.addOption(
    new Option("--group <id>", "export this FHIR Group (Group/<id>/$export)").env(
      "SMART_FETCH_GROUP",
    ),
  );
  bulk.addOption(
    new Option(
      "--patient-level",
      "export all patients (Patient/$export) instead of the whole system",
    ),
  );
  addTypeOptions(bulk);
  addSinceOptions(bulk, false);
  addOutputOptions(bulk);
  bulk.addOption(
    new Option("--kickoff <method>", "kick-off with GET or POST (GET falls back to POST on 405)")
      .choices(["get", "post"]).default("get").env("SMART_FETCH_KICKOFF"),
  );
  bulk.addOption(
    new Option("--max-wait <duration>", "give up waiting for the server after this long")
      .argParser(parseDuration).default(30 * 86_400_000, "30d").env("SMART_FETCH_MAX_WAIT"),
  );
  bulk.addOption(
    new Option("--cancel", "cancel the export in progress in this folder (DELETE on the server)"),
  );
  addCommonOptions(bulk);
  bulk.action(
    async (dir: string | undefined, flags: BulkFlags & { verbose?: boolean }, cmd: Command) => {
      const verbose = !!(flags.verbose || cmd.parent?.opts().verbose);
      pc.setExitCode(await runBulk(dir, flags, pc.context(verbose)));
    },
  );
  program.addCommand(bulk);
  return program;
}
