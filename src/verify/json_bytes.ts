/**
 * What both JSON line validators share: the byte classes of RFC 8259 JSON and UTF-8, the
 * sink they report to, and the wording of their findings (the same for the same byte, so a
 * line reads the same whichever validator saw it).
 */

import type { IdSlot } from "./capture.ts";

/** Why a line is not a usable resource row. */
export type BadLineCode = "bad-json" | "bad-utf8" | "not-object";

/** Receives what a scanner finds, line by line (numbers count from 1, blank lines included). */
export interface ScanSink {
  /**
   * Line `line` is one JSON object. `resourceType` is its top-level value: a string, `null`
   * when not a string, `undefined` when absent; `id` its top-level id, valid only during this
   * call. `text` is the whole line, only when the scanner was asked to keep lines.
   */
  object(
    line: number,
    resourceType: string | null | undefined,
    id: IdSlot,
    text: string | undefined,
  ): void;
  /** Line `line` cannot be read as a resource. */
  bad(line: number, code: BadLineCode, message: string): void;
}

/** Byte classes inside a string: 0 plain, 1 quote, 2 backslash, 3 control, 4 non-ASCII. */
export const STR_CLASS = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  STR_CLASS[b] = b === 0x22 ? 1 : b === 0x5c ? 2 : b < 0x20 ? 3 : b >= 0x80 ? 4 : 0;
}

/** 1 for hexadecimal digits (of `\u` escapes). */
export const IS_HEX = new Uint8Array(256);
for (const c of "0123456789abcdefABCDEF") IS_HEX[c.charCodeAt(0)] = 1;

/** 1 for the bytes that may follow a backslash, `u` aside. */
export const IS_ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') IS_ESCAPE[c.charCodeAt(0)] = 1;

/** The bytes of `true`, `false` and `null`. */
export const LITERALS: readonly (readonly number[])[] = ["true", "false", "null"].map((w) =>
  Array.from(w, (c) => c.charCodeAt(0))
);

/** Deeper nesting than this is reported (Python's json, which the ETL uses, stops near 1000). */
export const MAX_DEPTH = 900;

/**
 * UTF-8 (RFC 3629): the number of continuation bytes after `lead`, or -1 when `lead` cannot
 * start a character.
 */
export function utf8Continuations(lead: number): number {
  return lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 &&
      lead <= 0xf4
    ? 3
    : -1;
}

/** The lowest allowed second byte after `lead` (no overlong forms). */
export function utf8SecondLow(lead: number): number {
  return lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
}

/** The highest allowed second byte after `lead` (no surrogates, nothing above U+10FFFF). */
export function utf8SecondHigh(lead: number): number {
  return lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
}

/** Message details: what is wrong at the failing byte, when more than "unexpected X". */
export const WHAT = {
  control: "a control character in a string",
  escape: "a bad escape in a string",
  unicode: "a bad \\u escape in a string",
  number: "a bad number",
  deep: `nested deeper than ${MAX_DEPTH} levels`,
} as const;

/** The message for a line that fails at byte `b`, `column` bytes into the line. */
export function failureMessage(code: BadLineCode, what: string, b: number, column: number): string {
  if (code === "bad-utf8") return `not UTF-8 at byte ${column}`;
  if (b === 0x0a) return "not JSON: the line ends before its value does (cut short?)";
  const shown = b >= 0x21 && b < 0x7f
    ? `'${String.fromCharCode(b)}'`
    : `byte 0x${b.toString(16).padStart(2, "0")}`;
  return `not JSON: ${what || `unexpected ${shown}`} at byte ${column}`;
}

/** The message for a line that is valid JSON but not an object; `first` is its first byte. */
export function notObjectMessage(first: number): string {
  const kind = first === 0x5b
    ? "an array"
    : first === 0x22
    ? "a string"
    : first === 0x74
    ? "true"
    : first === 0x66
    ? "false"
    : first === 0x6e
    ? "null"
    : "a number";
  return `${kind}, not a JSON object`;
}
