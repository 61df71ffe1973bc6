/**
 * JSON string values the scanners keep (a top-level key, `resourceType`, `id`): compared,
 * decoded or hashed straight from the chunk when they lie in one, else from a copy collected
 * across chunks.
 */

import { hashId } from "../workspace/id_index.ts";

const UTF8 = new TextDecoder();

/** A growable copy of bytes collected across chunks (the chunks are borrowed). */
export class ByteBuffer {
  /** The bytes collected: `bytes[0..length)`. */
  bytes = new Uint8Array(64);
  length = 0;
  /** More than `limit` bytes were offered: the value is not kept. */
  overflow = false;

  /** `limit`: bytes kept at most. @default 65536 */
  constructor(private readonly limit = 65_536) {}

  /** Starts again, empty. */
  reset(): void {
    this.length = 0;
    this.overflow = false;
  }

  /** Appends a copy of `buf[from..to)`. */
  add(buf: Uint8Array, from: number, to: number): void {
    const size = to - from;
    if (size <= 0 || this.overflow) return;
    const need = this.length + size;
    if (need > this.limit) {
      this.overflow = true;
      return;
    }
    if (need > this.bytes.length) {
      const bigger = new Uint8Array(Math.max(need, this.bytes.length * 2));
      bigger.set(this.bytes.subarray(0, this.length));
      this.bytes = bigger;
    }
    this.bytes.set(buf.subarray(from, to), this.length);
    this.length = need;
  }
}

/** True when `bytes[from..to)` is exactly the ASCII `key` (a key written without escapes). */
export function bytesAre(bytes: Uint8Array, from: number, to: number, key: Uint8Array): boolean {
  if (to - from !== key.length) return false;
  for (let i = 0; i < key.length; i++) if (bytes[from + i] !== key[i]) return false;
  return true;
}

/**
 * The text of the JSON string whose raw bytes (between the quotes) are `bytes[from..to)`. The
 * scanner has checked them (valid UTF-8, valid escapes), so this cannot fail.
 */
export function stringValue(
  bytes: Uint8Array,
  from: number,
  to: number,
  escaped: boolean,
): string {
  let ascii = to - from <= 64;
  for (let i = from; ascii && i < to; i++) ascii = bytes[i]! < 0x80;
  let raw: string;
  if (ascii) {
    raw = "";
    for (let i = from; i < to; i++) raw += String.fromCharCode(bytes[i]!);
  } else raw = UTF8.decode(bytes.subarray(from, to));
  return escaped ? JSON.parse(`"${raw}"`) as string : raw;
}

/** Decodes a value that repeats on every row (`resourceType`) once, and reuses the text. */
export class RepeatedString {
  #bytes = new Uint8Array(64);
  #length = -1;
  #text = "";

  /** Like {@linkcode stringValue}, but the last text is reused when the bytes are the same. */
  value(bytes: Uint8Array, from: number, to: number, escaped: boolean): string {
    const length = to - from;
    if (!escaped && length === this.#length) {
      let same = true;
      for (let i = 0; same && i < length; i++) same = bytes[from + i] === this.#bytes[i];
      if (same) return this.#text;
    }
    const text = stringValue(bytes, from, to, escaped);
    if (!escaped && length <= this.#bytes.length) {
      this.#bytes.set(bytes.subarray(from, to));
      this.#length = length;
      this.#text = text;
    }
    return text;
  }
}

/** A top-level `id` as the sink sees it: absent, not a string, or a string. */
export const ID_ABSENT = 0, ID_NOT_STRING = 1, ID_STRING = 2;

/**
 * The id of the line being reported, valid only during the sink's call: its hash is computed
 * from the bytes, without making a string (most rows only need the hash).
 */
export class IdSlot {
  /** {@linkcode ID_ABSENT}, {@linkcode ID_NOT_STRING} or {@linkcode ID_STRING}. */
  kind = ID_ABSENT;
  #bytes: Uint8Array = new Uint8Array(0);
  #from = 0;
  #to = 0;
  #escaped = false;
  #text: string | undefined;

  /** The id is the JSON string whose raw bytes are `bytes[from..to)`. */
  setBytes(bytes: Uint8Array, from: number, to: number, escaped: boolean): void {
    this.kind = ID_STRING;
    this.#bytes = bytes;
    this.#from = from;
    this.#to = to;
    this.#escaped = escaped;
    this.#text = undefined;
  }

  /** The id is `text`. */
  setText(text: string): void {
    this.kind = ID_STRING;
    this.#text = text;
  }

  /** The id is absent, or not a string. */
  setKind(kind: number): void {
    this.kind = kind;
    this.#text = undefined;
  }

  /** The id (for a string id). */
  text(): string {
    this.#text ??= stringValue(this.#bytes, this.#from, this.#to, this.#escaped);
    return this.#text;
  }

  /** True for the empty string. */
  get empty(): boolean {
    return this.#text === undefined ? this.#to === this.#from : this.#text === "";
  }

  /** `hashId(text())`, from the bytes when they are plain ASCII. */
  hash(): number {
    if (this.#text !== undefined || this.#escaped) return hashId(this.text());
    const bytes = this.#bytes;
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = this.#from; i < this.#to; i++) {
      const c = bytes[i]!;
      if (c >= 0x80) return hashId(this.text());
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    return (h1 >>> 0) * 2 ** 21 + ((h2 >>> 0) >>> 11);
  }
}
