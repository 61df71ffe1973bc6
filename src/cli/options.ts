/**
 * Flag definitions shared by commands. Names follow SMART Fetch so users' scripts keep working.
 * Every value flag can also come from an environment variable `SMART_FETCH_<FLAG_NAME>`
 * (e.g. SMART_FETCH_BASIC_PASSWD), which keeps secrets out of `ps` and shell history.
 */

import { type Command, InvalidArgumentError, Option } from "commander";
import { checkSince, collect, intParser, parseDuration, parseRate } from "./parsers.ts";

/** `--basic-passwd` -> `SMART_FETCH_BASIC_PASSWD`. */
export function envName(flag: string): string {
  return `SMART_FETCH_${flag.replace(/^--/, "").replaceAll("-", "_").toUpperCase()}`;
}

function withEnv(option: Option): Option {
  return option.env(envName(option.long!));
}

/** `--fhir-url`, connection limits and timeouts. */
export function addServerOptions(cmd: Command): Command {
  return cmd
    .addOption(withEnv(new Option("--fhir-url <url>", "FHIR server base URL (required)")))
    .addOption(
      withEnv(new Option("--max-connections <n>", "requests in flight at once, downloads included"))
        .argParser(intParser(1, 64)).default(5),
    )
    .addOption(
      withEnv(
        new Option(
          "--max-requests-per-second <n>",
          "start at most this many requests a second (retries and token requests count)",
        ),
      ).argParser(parseRate),
    )
    .addOption(
      withEnv(
        new Option(
          "--request-timeout <duration>",
          "wait this long for an answer or for the next bytes of one",
        ),
      )
        .argParser(parseDuration).default(300_000, "5m"),
    )
    .addOption(
      withEnv(
        new Option(
          "--max-retry-wait <duration>",
          "cap on any wait a server asks for (Retry-After)",
        ),
      )
        .argParser(parseDuration).default(300_000, "5m"),
    );
}

/** Authentication flags. */
export function addAuthOptions(cmd: Command): Command {
  return cmd
    .addOption(
      withEnv(
        new Option(
          "--smart-client-id <id>",
          "SMART Backend Services client ID, or a file holding it",
        ),
      ),
    )
    .addOption(
      withEnv(
        new Option("--smart-key <path>", "private key: a JWKS, JWK or PEM file (or JWKS JSON)"),
      ),
    )
    .addOption(
      withEnv(
        new Option(
          "--smart-key-id <kid>",
          "key ID to send (default: from the JWKS, or the PEM's RFC 7638 thumbprint)",
        ),
      ),
    )
    .addOption(
      withEnv(new Option("--bulk-smart-client-id <id>", "separate client ID for bulk export")),
    )
    .addOption(
      withEnv(new Option("--bulk-smart-key <path>", "separate private key for bulk export")),
    )
    .addOption(withEnv(new Option("--basic-user <user>", "HTTP Basic user")))
    .addOption(
      withEnv(
        new Option(
          "--basic-passwd <path>",
          "HTTP Basic password: a file holding it, or the password",
        ),
      ),
    )
    .addOption(
      withEnv(
        new Option("--bearer-token <path>", "static bearer token: a file holding it, or the token"),
      ),
    )
    .addOption(
      withEnv(
        new Option(
          "--token-url <url>",
          "OAuth token endpoint (default: discovered from the server)",
        ),
      ),
    );
}

/** Resource selection flags. */
export function addTypeOptions(cmd: Command): Command {
  return cmd
    .addOption(
      withEnv(
        new Option(
          "--type <types>",
          "resource types, comma-separated or repeated; 'help' lists them",
        ),
      )
        .argParser(collect),
    )
    .addOption(
      withEnv(
        new Option(
          "--type-filter <filter>",
          "a filter like Observation?category=laboratory (repeat to OR)",
        ),
      )
        .argParser(collect),
    )
    .addOption(
      new Option("--no-default-filters", "do not limit Observations to the standard categories"),
    );
}

/** `--since` and `--since-mode`. */
export function addSinceOptions(cmd: Command, allowAuto: boolean): Command {
  return cmd
    .addOption(
      withEnv(
        new Option(
          "--since <timestamp>",
          allowAuto
            ? "only resources changed after this time, or 'auto' to continue from earlier exports"
            : "only resources changed after this time",
        ),
      ).argParser((v: string) => {
        if (v !== "auto") return checkSince(v);
        if (allowAuto) return v;
        throw new InvalidArgumentError(
          "'auto' continues from earlier exports, which only a managed folder has: use smart-fetch export, or give a time.",
        );
      }),
    )
    .addOption(
      withEnv(new Option("--since-mode <mode>", "how --since selects resources"))
        .choices(["auto", "updated", "created"]).default("auto"),
    );
}

/** Output flags. */
export function addOutputOptions(cmd: Command): Command {
  return cmd.addOption(new Option("--no-compression", "write plain .ndjson instead of .ndjson.gz"));
}

/** `-c/--config` and `-v/--verbose`, accepted on every command. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(
      withEnv(
        new Option("-c, --config <file>", "read flags from this TOML file (flags given here win)"),
      ),
    )
    .addOption(new Option("-v, --verbose", "show every request, retries and stack traces"));
}
