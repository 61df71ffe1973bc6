/** Streaming reads of NDJSON files (plain or gzip, one member or many), line by line, in flat memory. */

import { gunzipAll } from "./gunzip.ts";

/** Splits a text stream into lines (without their line breaks). */
export function lineSplitter(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const text = rest + chunk;
      let start = 0;
      for (;;) {
        const nl = text.indexOf("\n", start);
        if (nl < 0) break;
        controller.enqueue(text.slice(start, nl).replace(/\r$/, ""));
        start = nl + 1;
      }
      rest = text.slice(start);
    },
    flush(controller) {
      if (rest) controller.enqueue(rest.replace(/\r$/, ""));
    },
  });
}

/** The non-blank lines of an NDJSON file; `.gz` names (or `gzip: true`) are gunzipped. */
export async function* readLines(
  path: string,
  options: { gzip?: boolean } = {},
): AsyncGenerator<string> {
  const file = await Deno.open(path, { read: true });
  let bytes: ReadableStream<Uint8Array> = file.readable;
  if (options.gzip ?? path.endsWith(".gz")) bytes = gunzipAll(bytes);
  const lines = bytes.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
  for await (const line of lines) {
    if (line.trim()) yield line;
  }
}

/**
 * The JSON objects of an NDJSON file. Lines that are not JSON objects are passed to `onBad`
 * (default: skipped), as Cumulus ETL does.
 */
export async function* readObjects(
  path: string,
  onBad: (line: string) => void = () => {},
): AsyncGenerator<Record<string, unknown>> {
  for await (const line of readLines(path)) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      onBad(line);
      continue;
    }
    if (value && typeof value === "object" && !Array.isArray(value)) {
      yield value as Record<string, unknown>;
    } else {
      onBad(line);
    }
  }
}
