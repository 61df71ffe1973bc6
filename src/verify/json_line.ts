/**
 * The fast path of line checking: one whole NDJSON line, held in a buffer, checked by recursive
 * descent (strict RFC 8259 JSON in valid UTF-8), with the raw bytes of its top-level
 * `resourceType` and `id` located. About twice as fast as the streaming state machine
 * (`json_stream.ts`), whose findings it must match byte for byte. The buffer must hold a `\n`
 * after the line: every loop stops at it, so none needs a bounds check, and the line's end need
 * not be looked for first.
 */

import {
  type BadLineCode,
  IS_ESCAPE,
  IS_HEX,
  LITERALS,
  MAX_DEPTH,
  STR_CLASS,
  utf8Continuations,
  utf8SecondHigh,
  utf8SecondLow,
  WHAT,
} from "./json_bytes.ts";

/** A top-level value is absent. */
export const ABSENT = -1;
/** A top-level value is there but is not a string. */
export const NOT_STRING = -2;

/** What {@linkcode checkLine} found; one object is reused for every line. */
export class LineFacts {
  /** The first byte of the value (`{` for an object). */
  first = 0;
  /** The index of the `\n` that ends the line (when it did not fail). */
  end = 0;
  /** On failure: the code, the index of the failing byte and, if any, what is wrong there. */
  code: BadLineCode = "bad-json";
  failAt = 0;
  what = "";
  /** The raw bytes (between the quotes) of `resourceType`, or ABSENT / NOT_STRING. */
  typeFrom = ABSENT;
  typeTo = 0;
  typeEscaped = false;
  /** The same for `id`. */
  idFrom = ABSENT;
  idTo = 0;
  idEscaped = false;
}

/** The outcomes of {@linkcode checkLine}. */
export const BLANK = 0, OBJECT = 1, NOT_OBJECT = 2, FAILED = 3;

// Module state of the descent (single-threaded and not re-entered: each call runs to the end).
let facts = new LineFacts();
let escaped = false;

function fail(i: number, what = "", code: BadLineCode = "bad-json"): number {
  facts.failAt = i;
  facts.what = what;
  facts.code = code;
  return -1;
}

/**
 * Checks the line that starts at `start` and fills `out`; the line ends at the first `\n`
 * after its value (`out.end`; on failure `out.failAt` says where it failed). The buffer must
 * hold a `\n` at or after the line's end.
 */
export function checkLine(buf: Uint8Array, start: number, out: LineFacts): number {
  facts = out;
  out.typeFrom = out.idFrom = ABSENT;
  let i = ws(buf, start);
  const first = buf[i]!;
  out.first = first;
  if (first === 0x0a) {
    out.end = i;
    return BLANK;
  }
  i = first === 0x7b ? top(buf, i + 1) : value(buf, i, 0);
  if (i >= 0 && buf[i = ws(buf, i)] !== 0x0a) i = fail(i);
  if (i < 0) return FAILED;
  out.end = i;
  return first === 0x7b ? OBJECT : NOT_OBJECT;
}

function ws(buf: Uint8Array, i: number): number {
  let b = buf[i];
  while (b === 0x20 || b === 0x09 || b === 0x0d) b = buf[++i];
  return i;
}

/** A string from `i` (just after its opening quote) to just after its closing quote. */
function str(buf: Uint8Array, i: number): number {
  for (;;) {
    let c = 0;
    while ((c = STR_CLASS[buf[i]!]!) === 0) i++;
    if (c === 1) return i + 1;
    if (c === 2) {
      escaped = true;
      const e = buf[i + 1]!;
      if (e === 0x75) {
        for (let k = 2; k < 6; k++) if (!IS_HEX[buf[i + k]!]) return fail(i + k, WHAT.unicode);
        i += 6;
      } else if (IS_ESCAPE[e]) i += 2;
      else return fail(i + 1, WHAT.escape);
    } else if (c === 4) {
      const lead = buf[i]!;
      let need = utf8Continuations(lead);
      if (need < 0) return fail(i, "", "bad-utf8");
      let lo = utf8SecondLow(lead);
      let hi = utf8SecondHigh(lead);
      for (i++; need > 0; need--, i++) {
        const b = buf[i]!;
        if (b < lo || b > hi) return fail(i, "", "bad-utf8");
        lo = 0x80;
        hi = 0xbf;
      }
    } else return fail(i, WHAT.control);
  }
}

function digits(buf: Uint8Array, i: number): number {
  let b = buf[i]!;
  while (b >= 0x30 && b <= 0x39) b = buf[++i]!;
  return i;
}

function num(buf: Uint8Array, i: number): number {
  if (buf[i] === 0x2d) i++;
  let b = buf[i]!;
  if (b === 0x30) i++;
  else if (b >= 0x31 && b <= 0x39) i = digits(buf, i + 1);
  else return fail(i, WHAT.number);
  b = buf[i]!;
  if (b === 0x2e) {
    b = buf[++i]!;
    if (b < 0x30 || b > 0x39) return fail(i, WHAT.number);
    i = digits(buf, i);
    b = buf[i]!;
  }
  if (b === 0x65 || b === 0x45) {
    b = buf[++i]!;
    if (b === 0x2b || b === 0x2d) b = buf[++i]!;
    if (b < 0x30 || b > 0x39) return fail(i, WHAT.number);
    i = digits(buf, i);
  }
  return i;
}

function literal(buf: Uint8Array, i: number, word: readonly number[]): number {
  for (let k = 1; k < word.length; k++) if (buf[i + k] !== word[k]) return fail(i + k);
  return i + word.length;
}

/** Any value at `i`, inside `depth` open objects and arrays. */
function value(buf: Uint8Array, i: number, depth: number): number {
  const b = buf[i]!;
  if (b === 0x22) return str(buf, i + 1);
  if (b === 0x7b || b === 0x5b) {
    if (depth >= MAX_DEPTH) return fail(i, WHAT.deep);
    return b === 0x7b ? obj(buf, i + 1, depth + 1) : arr(buf, i + 1, depth + 1);
  }
  if (b === 0x2d || (b >= 0x30 && b <= 0x39)) return num(buf, i);
  if (b === 0x74) return literal(buf, i, LITERALS[0]!);
  if (b === 0x66) return literal(buf, i, LITERALS[1]!);
  if (b === 0x6e) return literal(buf, i, LITERALS[2]!);
  return fail(i);
}

/** The members of an object after its `{`; the common `"key":"value",` goes straight through. */
function obj(buf: Uint8Array, i: number, depth: number): number {
  i = ws(buf, i);
  if (buf[i] === 0x7d) return i + 1;
  for (;;) {
    if (buf[i] !== 0x22) return fail(i);
    i = str(buf, i + 1);
    if (i < 0) return -1;
    if (buf[i] !== 0x3a && buf[i = ws(buf, i)] !== 0x3a) return fail(i);
    i = ws(buf, i + 1);
    i = buf[i] === 0x22 ? str(buf, i + 1) : value(buf, i, depth);
    if (i < 0) return -1;
    let b = buf[i];
    if (b !== 0x2c && b !== 0x7d) b = buf[i = ws(buf, i)];
    if (b === 0x2c) i = ws(buf, i + 1);
    else if (b === 0x7d) return i + 1;
    else return fail(i);
  }
}

/** The items of an array after its `[`. */
function arr(buf: Uint8Array, i: number, depth: number): number {
  i = ws(buf, i);
  if (buf[i] === 0x5d) return i + 1;
  for (;;) {
    i = buf[i] === 0x22 ? str(buf, i + 1) : value(buf, i, depth);
    if (i < 0) return -1;
    let b = buf[i];
    if (b !== 0x2c && b !== 0x5d) b = buf[i = ws(buf, i)];
    if (b === 0x2c) i = ws(buf, i + 1);
    else if (b === 0x5d) return i + 1;
    else return fail(i);
  }
}

const Key = { Other: 0, Type: 1, Id: 2 } as const;

/** Which top-level key `buf[from..to)` is (raw bytes; `esc`: written with escapes). */
function keyOf(buf: Uint8Array, from: number, to: number, esc: boolean): number {
  if (esc) {
    const key = JSON.parse(`"${new TextDecoder().decode(buf.subarray(from, to))}"`);
    return key === "resourceType" ? Key.Type : key === "id" ? Key.Id : Key.Other;
  }
  const n = to - from;
  if (n === 2) return buf[from] === 0x69 && buf[from + 1] === 0x64 ? Key.Id : Key.Other;
  if (n !== 12) return Key.Other;
  for (let k = 0; k < 12; k++) if (buf[from + k] !== RESOURCE_TYPE[k]) return Key.Other;
  return Key.Type;
}

const RESOURCE_TYPE = new TextEncoder().encode("resourceType");

/** The top-level object after its `{`, noting where `resourceType` and `id` are. */
function top(buf: Uint8Array, i: number): number {
  i = ws(buf, i);
  if (buf[i] === 0x7d) return i + 1;
  for (;;) {
    if (buf[i] !== 0x22) return fail(i);
    const keyFrom = i + 1;
    escaped = false;
    i = str(buf, keyFrom);
    if (i < 0) return -1;
    const key = keyOf(buf, keyFrom, i - 1, escaped);
    if (buf[i] !== 0x3a && buf[i = ws(buf, i)] !== 0x3a) return fail(i);
    i = ws(buf, i + 1);
    const at = i;
    escaped = false;
    i = buf[i] === 0x22 ? str(buf, i + 1) : value(buf, i, 1);
    if (i < 0) return -1;
    if (key === Key.Type) {
      facts.typeFrom = buf[at] === 0x22 ? at + 1 : NOT_STRING;
      facts.typeTo = i - 1;
      facts.typeEscaped = escaped;
    } else if (key === Key.Id) {
      facts.idFrom = buf[at] === 0x22 ? at + 1 : NOT_STRING;
      facts.idTo = i - 1;
      facts.idEscaped = escaped;
    }
    let b = buf[i];
    if (b !== 0x2c && b !== 0x7d) b = buf[i = ws(buf, i)];
    if (b === 0x2c) i = ws(buf, i + 1);
    else if (b === 0x7d) return i + 1;
    else return fail(i);
  }
}
