/** What the server said in its error files, and recounting a finished file. */

import { join } from "node:path";
import { hasErrorIssue, isOperationOutcome, outcomeText } from "../fhir/operation_outcome.ts";
import type { BulkFile } from "../workspace/metadata.ts";
import { readLines, readObjects } from "../workspace/ndjson_reader.ts";

/** Texts of OperationOutcomes: errors (severity error/fatal) and everything else. */
export interface ServerMessages {
  errors: string[];
  messages: string[];
}

/** Reads the OperationOutcomes of downloaded error files. */
export async function readServerMessages(
  dir: string,
  files: readonly BulkFile[],
): Promise<ServerMessages> {
  const out: ServerMessages = { errors: [], messages: [] };
  for (const file of files) {
    try {
      for await (const value of readObjects(join(dir, file.name))) {
        if (!isOperationOutcome(value)) continue;
        const text = outcomeText(value) || JSON.stringify(value).slice(0, 200);
        (hasErrorIssue(value) ? out.errors : out.messages).push(text);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return out;
}

/** Counts the resources and NDJSON bytes of a finished file (rarely needed: see callers). */
export async function countFile(path: string): Promise<{ resources: number; bytes: number }> {
  let resources = 0;
  let bytes = 0;
  try {
    for await (const line of readLines(path)) {
      resources++;
      bytes += new TextEncoder().encode(line).length + 1;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return { resources, bytes };
}
