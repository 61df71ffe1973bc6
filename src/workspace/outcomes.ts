/**
 * smart-fetch's own OperationOutcomes (files it refused, searches that failed), kept in
 * `error/OperationOutcome.ndjson[.gz]` next to the server's error files. Cumulus ETL lists
 * error/ files but never reads them as data; people do.
 */

import { join } from "node:path";
import { ensureDir, exists } from "./files.ts";
import { readLines } from "./ndjson_reader.ts";
import { AtomicFileWriter } from "./ndjson_writer.ts";

/** One problem to record. */
export interface Problem {
  /** What went wrong, naming the file or URL. */
  diagnostics: string;
  /** FHIR issue type. @default "processing" */
  code?: string;
}

/** The path of the outcomes file inside `dir`. */
export function outcomesPath(dir: string, gzip: boolean): string {
  return join(dir, "error", `OperationOutcome.ndjson${gzip ? ".gz" : ""}`);
}

/** An OperationOutcome with one error issue. */
export function outcomeOf(problem: Problem): Record<string, unknown> {
  return {
    resourceType: "OperationOutcome",
    id: crypto.randomUUID(),
    issue: [{
      severity: "error",
      code: problem.code ?? "processing",
      diagnostics: problem.diagnostics,
    }],
  };
}

/**
 * Adds problems to the outcomes file. The file is rewritten to a temporary name and renamed, so
 * a kill leaves the old file or the new one (bulk records few problems; a crawl keeps its own
 * journal).
 */
export async function appendOutcomes(
  dir: string,
  problems: readonly Problem[],
  gzip: boolean,
): Promise<void> {
  if (problems.length === 0) return;
  const path = outcomesPath(dir, gzip);
  await ensureDir(join(dir, "error"));
  const writer = await AtomicFileWriter.create(path, { gzip });
  const out = writer.out;
  const encoder = new TextEncoder();
  try {
    if (await exists(path)) {
      for await (const line of readLines(path)) await out.write(encoder.encode(line + "\n"));
    }
    for (const p of problems) await out.write(encoder.encode(JSON.stringify(outcomeOf(p)) + "\n"));
    await out.close();
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
