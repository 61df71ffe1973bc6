/**
 * Downloading one attachment for inlining: asked for with `Accept: <mimetype>` (to get the raw
 * bytes, not a Binary resource), checked (the mimetype must be the one asked for, and a 2xx
 * OperationOutcome, as Cerner sends, is a failure), capped in size, and turned into the fields
 * Cumulus ETL reads: `data` (base64 of the exact bytes), `size`, `hash` (base64 SHA-1) and
 * `contentType` (`<mime>; charset=<charset>`).
 */

import { RefusedError, ServerError } from "../errors.ts";
import type { HttpClient } from "../http/client.ts";
import { connectionLost } from "../http/body.ts";
import { mediaType } from "../bulk/binary_body.ts";

const toBase64 = (bytes: Uint8Array): string =>
  (bytes as unknown as { toBase64(): string }).toBase64();

/** What an inlined attachment gets. */
export interface InlinedFields {
  contentType: string;
  data: string;
  size: number;
  hash: string;
}

/** An attachment too big to inline (`--max-attachment-size`): skipped, reported. */
export class AttachmentTooLarge extends RefusedError {}

/** The charset parameter of a Content-Type, or undefined. */
function charsetOf(header: string | null): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(header ?? "");
  return m?.[1];
}

/** Downloads `url` as `mime` and returns the fields to inline. */
export async function fetchAttachment(
  http: HttpClient,
  url: string,
  mime: string,
  maxBytes: number,
): Promise<InlinedFields> {
  const target = http.resolve(url);
  const got = await http.request(target, {
    headers: { Accept: mime },
    streaming: true,
  }, async (res, progress) => {
    const type = res.headers.get("content-type");
    if (mediaType(type) !== mime) {
      await res.body?.cancel();
      throw new ServerError(
        `${url} answered ${mediaType(type) || "no Content-Type"}, not the ${mime} asked for`,
        { url: target, status: res.status },
      );
    }
    const declared = Number(res.headers.get("content-length") ?? NaN);
    if (declared > maxBytes) {
      await res.body?.cancel();
      throw new AttachmentTooLarge(`${url} is ${declared} bytes, over --max-attachment-size`);
    }
    const parts: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (err) {
          throw connectionLost(`GET ${url}`, err);
        }
        progress();
        if (next.done) break;
        size += next.value.length;
        if (size > maxBytes) {
          await reader.cancel();
          throw new AttachmentTooLarge(`${url} is over --max-attachment-size (${maxBytes} bytes)`);
        }
        parts.push(next.value);
      }
    }
    return { type, parts, size };
  });
  const bytes = new Uint8Array(got.size);
  let at = 0;
  for (const p of got.parts) {
    bytes.set(p, at);
    at += p.length;
  }
  // An OperationOutcome with a 2xx (Cerner) is an error message, not the note.
  if (bytes.length < 1_000_000 && bytes[0] === 0x7b) {
    try {
      const value = JSON.parse(new TextDecoder().decode(bytes));
      if (value?.resourceType === "OperationOutcome") {
        throw new ServerError(`${url} answered an OperationOutcome instead of the attachment`, {
          url: target,
          status: 200,
          body: value,
        });
      }
    } catch (err) {
      if (err instanceof ServerError) throw err;
      // Not JSON: a note that starts with "{".
    }
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", bytes));
  return {
    contentType: `${mime}; charset=${charsetOf(got.type) ?? "utf-8"}`,
    data: toBase64(bytes),
    size: bytes.length,
    hash: toBase64(digest),
  };
}
