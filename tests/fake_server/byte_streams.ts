/**
 * Byte-stream transforms for export file bodies that may be too big to hold (synthetic mode):
 * keeping only a prefix (the `shorten` fault), base64 encoding and wrapping in a fixed prefix and
 * suffix (a Binary resource around the data). Each has a whole-bytes twin for the data set.
 *
 * Chunks are borrowed: whatever must outlive a call is copied; chunks passed on are not touched.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { gzipSync } from "node:zlib";

const encoder = new TextEncoder();
const NEWLINE = 10;

/** Bytes backed by a plain ArrayBuffer (what web streams such as CompressionStream accept). */
export type Bytes = Uint8Array<ArrayBuffer>;

/**
 * The first `limit` bytes (with `atLineEnd`, only up to and including the last newline within
 * them); all of them when there are no more.
 */
export function prefixBytes(bytes: Bytes, limit: number, atLineEnd: boolean): Bytes {
  if (bytes.length <= limit) return bytes;
  const part = bytes.subarray(0, Math.max(0, limit));
  if (!atLineEnd) return part;
  return part.subarray(0, part.lastIndexOf(NEWLINE) + 1);
}

/**
 * Passes on the first `limit` bytes, then ends the stream (and cancels the source). With
 * `atLineEnd`, bytes after the last newline are held back until a later newline within the
 * limit releases them, and dropped when the limit is reached (a shorter source passes whole).
 */
export function prefixStream(
  limit: number,
  atLineEnd: boolean,
): TransformStream<Bytes, Bytes> {
  let seen = 0;
  /** Copies of bytes since the last newline (atLineEnd only). */
  let held: Bytes[] = [];
  return new TransformStream({
    transform(chunk, controller) {
      const part = chunk.subarray(0, Math.max(0, limit - seen));
      seen += part.length;
      if (!atLineEnd) {
        if (part.length > 0) controller.enqueue(part.slice());
      } else {
        const end = part.lastIndexOf(NEWLINE) + 1;
        if (end > 0) {
          for (const piece of held) controller.enqueue(piece);
          controller.enqueue(part.slice(0, end));
          held = [];
        }
        if (end < part.length) held.push(part.slice(end));
      }
      if (seen >= limit) controller.terminate();
    },
    flush(controller) {
      // The source ended within the limit: it was not shortened at all.
      for (const piece of held) controller.enqueue(piece);
    },
  });
}

/** Base64 of whole bytes, as ASCII bytes. */
export function base64Bytes(bytes: Bytes): Bytes {
  return encoder.encode(
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64"),
  );
}

/** Base64-encodes a byte stream (3-byte groups; up to two bytes carried between chunks). */
export function base64Stream(): TransformStream<Bytes, Bytes> {
  let carry = new Uint8Array(0);
  return new TransformStream({
    transform(chunk, controller) {
      let all = chunk;
      if (carry.length > 0) {
        all = new Uint8Array(carry.length + chunk.length);
        all.set(carry, 0);
        all.set(chunk, carry.length);
      }
      const whole = all.length - (all.length % 3);
      carry = all.slice(whole);
      if (whole > 0) controller.enqueue(base64Bytes(all.subarray(0, whole)));
    },
    flush(controller) {
      if (carry.length > 0) controller.enqueue(base64Bytes(carry));
    },
  });
}

/** `prefix`, the bytes, `suffix`, as one array. */
export function wrapBytes(prefix: string, bytes: Bytes, suffix: string): Bytes {
  const head = encoder.encode(prefix);
  const tail = encoder.encode(suffix);
  const out = new Uint8Array(head.length + bytes.length + tail.length);
  out.set(head, 0);
  out.set(bytes, head.length);
  out.set(tail, head.length + bytes.length);
  return out;
}

/** `prefix`, the stream's bytes, `suffix`, as one stream (cancelling it cancels the source). */
export function wrapStream(
  prefix: string,
  body: ReadableStream<Bytes>,
  suffix: string,
): ReadableStream<Bytes> {
  const reader = body.getReader();
  return new ReadableStream<Bytes>({
    start(controller) {
      controller.enqueue(encoder.encode(prefix));
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (!done) {
        controller.enqueue(value);
        return;
      }
      controller.enqueue(encoder.encode(suffix));
      controller.close();
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** A response body: whole bytes, or a stream (too big to hold). */
export type Body = Bytes | ReadableStream<Bytes>;

/** Gzips a body (whole bytes stay whole). */
export function gzipBody(body: Body): Body {
  return body instanceof Uint8Array
    ? new Uint8Array(gzipSync(body))
    : body.pipeThrough(new CompressionStream("gzip"));
}
