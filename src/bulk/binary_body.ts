/**
 * Export files served as FHIR `Binary` resources (Smile CDR and older HAPI answer a file URL
 * with `{"resourceType":"Binary","contentType":...,"data":"<base64>"}` even when asked for
 * NDJSON: hapi-fhir issue 4051). Streams the decoded `data` as the file, in flat memory: the
 * base64 text is decoded piece by piece as it arrives, never held whole.
 */

import { JsonShapeError, TopLevelScanner } from "../fhir/json_scan.ts";
import type { ChunkSource } from "./body_source.ts";
import { IncompleteFileError } from "./ndjson_check.ts";

const fromBase64 = (Uint8Array as unknown as { fromBase64(text: string): Uint8Array }).fromBase64;
const latin1 = new TextDecoder("latin1");

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(header: string | null): string {
  return (header ?? "").split(";")[0]!.trim().toLowerCase();
}

/** How a file response is encoded, from its Content-Type. */
export function bodyKind(contentType: string | null): "ndjson" | "binary-json" | "xml" {
  const type = mediaType(contentType);
  if (type.includes("ndjson")) return "ndjson";
  if (type.endsWith("+json") || type === "application/json") return "binary-json";
  if (type.endsWith("+xml") || type.endsWith("/xml")) return "xml";
  return "ndjson";
}

/** The decoded `data` of a JSON Binary resource streaming from `source`. */
export function binarySource(source: ChunkSource, what: string): ChunkSource {
  let carry = "";
  let out: Uint8Array[] = [];
  let resourceType = "";
  let sawData = false;
  let ended = false;
  const decode = (text: string, final: boolean) => {
    const all = carry + text;
    const usable = final ? all.length : all.length - (all.length % 4);
    carry = all.slice(usable);
    if (usable === 0) return;
    try {
      out.push(fromBase64(all.slice(0, usable)));
    } catch {
      throw new IncompleteFileError(what, "is a Binary resource whose data is not base64");
    }
  };
  const scanner = new TopLevelScanner(new Set(["resourceType", "data"]), {
    bytes(key, bytes, start, end) {
      const text = latin1.decode(bytes.subarray(start, end));
      if (key === "data") {
        sawData = true;
        decode(text, false);
      } else if (resourceType.length < 64) resourceType += text;
    },
    end(key) {
      if (key === "data") decode("", true);
      return false;
    },
  });
  const finish = () => {
    if (!scanner.done) {
      throw new IncompleteFileError(what, "is a Binary resource that was cut short");
    }
    if (resourceType !== "Binary" || !sawData) {
      throw new IncompleteFileError(
        what,
        `answered a ${resourceType || "JSON"} resource, not the NDJSON file or a Binary holding it`,
      );
    }
  };
  return {
    async read() {
      while (out.length === 0) {
        if (ended) return null;
        const chunk = await source.read();
        if (!chunk) {
          ended = true;
          finish();
          continue;
        }
        try {
          scanner.feed(chunk, 0, chunk.length);
        } catch (err) {
          if (!(err instanceof JsonShapeError)) throw err;
          throw new IncompleteFileError(what, `is not a valid Binary resource (${err.message})`);
        }
        // After the object's end the scanner stops: anything further is ignored.
      }
      const chunks = out;
      out = [];
      if (chunks.length === 1) return chunks[0]!;
      const size = chunks.reduce((n, c) => n + c.length, 0);
      const joined = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        joined.set(c, at);
        at += c.length;
      }
      return joined;
    },
    cancel: (reason) => source.cancel(reason),
  };
}
