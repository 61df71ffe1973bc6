/** The program's version, shown by `--version` and written to `.metadata` and `log.ndjson`. */
export const VERSION = "0.1.0";

/** The program's name as written to `log.ndjson` (`_client`). */
export const CLIENT_NAME = "smart-fetch-deno";
