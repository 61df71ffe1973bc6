/** Secrets given as a value or as a path to a file holding it. */

import { ConfigError } from "../errors.ts";

/**
 * Returns the secret: the trimmed content of the file when `value` names a readable file,
 * else `value` itself (SMART Fetch's rule). Files keep secrets out of `ps` and shell history;
 * so do environment variables (`SMART_FETCH_BASIC_PASSWD` and friends).
 */
export function resolveSecret(value: string, flag: string): string {
  let isFile = false;
  try {
    isFile = Deno.statSync(value).isFile;
  } catch {
    isFile = false;
  }
  if (!isFile) return value;
  try {
    const text = Deno.readTextFileSync(value).trim();
    if (!text) throw new ConfigError(`The file given to ${flag} ("${value}") is empty.`);
    return text;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      `Cannot read the file given to ${flag} ("${value}"): ${(err as Error).message}`,
    );
  }
}
