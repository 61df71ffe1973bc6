/**
 * Checks an export file as it streams past, before it may become a committed data file: every
 * row is a JSON object of the manifest entry's type, the last line is complete, and the number
 * of resources matches the manifest's `count`. Lines may span any number of reads; the check
 * copies what it keeps (a chunk is borrowed) and memory stays flat with file size.
 */

import { RefusedError, TransientError } from "../errors.ts";
import { JsonShapeError, TopLevelScanner } from "../fhir/json_scan.ts";

const NL = 0x0a;
/** Servers write `{"resourceType":"X"` first: the fast path reads the type without a scanner. */
const FAST = new TextEncoder().encode('{"resourceType":"');
/** The longest line whose completeness we can check (its bytes are kept until it ends). */
const MAX_LINE = 256 * 1024 * 1024;
const TYPE_KEY: ReadonlySet<string> = new Set(["resourceType"]);

/** A file that is cut short or otherwise broken: worth downloading again. */
export class IncompleteFileError extends TransientError {
  /** `what` names the file (`The file <url>`), `problem` says what is wrong with it. */
  constructor(what: string, problem: string) {
    super(`${what} ${problem}`, { reason: problem });
  }
}

/** A file whose rows are not of the type the manifest says: never stored, not retried. */
export class MislabeledFileError extends RefusedError {
  constructor(
    message: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(message);
  }
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === NL;
}

function isBlank(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (!isSpace(bytes[i]!)) return false;
  return true;
}

function concat(parts: readonly Uint8Array[], extra?: Uint8Array): Uint8Array {
  const size = parts.reduce((n, p) => n + p.length, extra?.length ?? 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  if (extra) out.set(extra, at);
  return out;
}

/** Options for {@linkcode NdjsonCheck}. */
export interface NdjsonCheckOptions {
  /** `The file <url>`, for messages. */
  what: string;
  /** The manifest entry's type: every row must have this resourceType. */
  type: string;
  /** The manifest's `count` for the file, when given. */
  count?: number | undefined;
}

/** Counts resources and checks rows of one file, chunk by chunk. */
export class NdjsonCheck {
  /** Non-blank lines seen. */
  resources = 0;
  /** Bytes seen. */
  bytes = 0;
  readonly #o: NdjsonCheckOptions;
  readonly #type: Uint8Array;
  /** Where the current line stands: before its content, its head, scanned, or skipped. */
  #state: "between" | "head" | "scan" | "skip" = "between";
  #line = 1;
  readonly #head = new Uint8Array(FAST.length + 70);
  #headLen = 0;
  #scanner: TopLevelScanner | undefined;
  #found = "";
  #gotType = false;
  /** Copies of the bytes after the last newline, and of the last non-blank complete line. */
  #tail: Uint8Array[] = [];
  #tailLen = 0;
  #lastLine: Uint8Array | undefined;
  #lastByte = NL;

  constructor(options: NdjsonCheckOptions) {
    this.#o = options;
    this.#type = new TextEncoder().encode(options.type);
  }

  /** Takes the next chunk into account; throws when a row is wrong. */
  add(c: Uint8Array): void {
    this.bytes += c.length;
    if (c.length === 0) return;
    this.#rows(c);
    this.#keepLastLine(c);
    this.#lastByte = c[c.length - 1]!;
  }

  /**
   * At the end of the body: checks the last line and the count. Returns the bytes to append (a
   * final newline) so files always end in one.
   */
  finish(): Uint8Array | undefined {
    if (this.#state === "head") this.#startLine(this.#head, 0, this.#headLen);
    if (this.#state === "scan") this.#unfinishedLine();
    const tail = concat(this.#tail);
    const last = isBlank(tail) ? this.#lastLine : tail;
    if (last) {
      let value: unknown;
      try {
        value = JSON.parse(new TextDecoder().decode(last));
      } catch {
        value = undefined;
      }
      if (!value || typeof value !== "object" || Array.isArray(value)) {
        throw new IncompleteFileError(
          this.#o.what,
          `was cut short in the middle of line ${this.#line}`,
        );
      }
    }
    const { count } = this.#o;
    if (count !== undefined && count !== this.resources) {
      throw new IncompleteFileError(
        this.#o.what,
        `holds ${this.resources} resources, but the manifest says ${count}`,
      );
    }
    return this.#lastByte === NL ? undefined : new Uint8Array([NL]);
  }

  #rows(c: Uint8Array): void {
    const n = c.length;
    let i = 0;
    while (i < n) {
      switch (this.#state) {
        case "between": {
          const b = c[i]!;
          if (b === NL) {
            this.#line++;
            i++;
            continue;
          }
          if (isSpace(b)) {
            i++;
            continue;
          }
          this.resources++;
          const nl = c.indexOf(NL, i);
          if (nl < 0 && n - i < this.#head.length) {
            // The line's head spans reads: collect a copy of it first.
            this.#state = "head";
            this.#headLen = 0;
            continue;
          }
          const limit = nl < 0 ? n : nl;
          i = this.#startLine(c, i, limit);
          if (this.#scanning() && nl >= 0) this.#unfinishedLine();
          continue;
        }
        case "head": {
          const nl = c.indexOf(NL, i);
          const end = nl < 0 ? n : nl;
          const take = Math.min(end - i, this.#head.length - this.#headLen);
          this.#head.set(c.subarray(i, i + take), this.#headLen);
          this.#headLen += take;
          i += take;
          if (this.#headLen === this.#head.length || i === nl) {
            this.#startLine(this.#head, 0, this.#headLen);
            if (this.#scanning() && i === nl) this.#unfinishedLine();
          }
          continue;
        }
        case "scan": {
          const nl = c.indexOf(NL, i);
          i = this.#scan(c, i, nl < 0 ? n : nl);
          if (this.#scanning() && nl >= 0) this.#unfinishedLine();
          continue;
        }
        case "skip": {
          const nl = c.indexOf(NL, i);
          if (nl < 0) return;
          i = nl + 1;
          this.#line++;
          this.#state = "between";
          continue;
        }
      }
    }
  }

  /**
   * Reads the type of the line starting at `bytes[at]` and ending at `limit` (or going on in
   * later reads). Takes the fast path when the line starts with `{"resourceType":"`, else starts
   * the scanner. Returns where to go on.
   */
  #startLine(bytes: Uint8Array, at: number, limit: number): number {
    let fast = limit - at > FAST.length;
    for (let k = 0; fast && k < FAST.length; k++) fast = bytes[at + k] === FAST[k];
    if (fast) {
      const close = bytes.indexOf(0x22, at + FAST.length);
      if (close >= 0 && close < limit && close - at < this.#head.length) {
        this.#checkType(bytes, at + FAST.length, close);
        this.#state = "skip";
        return close + 1;
      }
    }
    this.#gotType = false;
    this.#found = "";
    this.#scanner = new TopLevelScanner(TYPE_KEY, {
      bytes: (_key, b, s, e) => {
        if (this.#found.length < 80) this.#found += new TextDecoder().decode(b.subarray(s, e));
      },
      end: () => (this.#gotType = true),
    });
    this.#state = "scan";
    return this.#scan(bytes, at, limit);
  }

  /** Feeds the scanner; moves to "skip" once the type is known. Returns where it stopped. */
  #scan(bytes: Uint8Array, from: number, to: number): number {
    const scanner = this.#scanner!;
    let next: number;
    try {
      next = scanner.feed(bytes, from, to);
    } catch (err) {
      if (!(err instanceof JsonShapeError)) throw err;
      throw this.#notResource(err.message);
    }
    if (this.#gotType) {
      const type = new TextEncoder().encode(this.#found);
      this.#checkType(type, 0, type.length);
      this.#state = "skip";
    } else if (scanner.stopped) {
      throw this.#notResource("it has no resourceType");
    }
    return next;
  }

  /** True while the current line's type is not known yet (the state changes under calls). */
  #scanning(): boolean {
    return this.#state === "scan";
  }

  /** A line ended (or the body did) while its type was still unknown. */
  #unfinishedLine(): never {
    throw new IncompleteFileError(
      this.#o.what,
      `was cut short in line ${this.#line}`,
    );
  }

  #checkType(bytes: Uint8Array, start: number, end: number): void {
    const want = this.#type;
    let same = end - start === want.length;
    for (let k = 0; same && k < want.length; k++) same = bytes[start + k] === want[k];
    if (same) return;
    const found = new TextDecoder().decode(bytes.subarray(start, Math.min(end, start + 80)));
    throw new MislabeledFileError(
      `${this.#o.what} is listed as ${this.#o.type} but line ${this.#line} holds a ${found}; it was not saved`,
      this.#o.type,
      found,
    );
  }

  #notResource(why: string): IncompleteFileError {
    return new IncompleteFileError(
      this.#o.what,
      `is not NDJSON of FHIR resources: line ${this.#line} is not one (${why})`,
    );
  }

  /** Keeps a copy of the bytes since the last newline and of the last non-blank line. */
  #keepLastLine(c: Uint8Array): void {
    const last = c.lastIndexOf(NL);
    if (last < 0) {
      this.#addTail(c.slice());
      return;
    }
    for (let end = last;;) {
      const start = end > 0 ? c.lastIndexOf(NL, end - 1) + 1 : 0;
      const segment = c.subarray(start, end);
      const line = start === 0 && this.#tailLen > 0 ? concat(this.#tail, segment) : segment;
      if (!isBlank(line)) {
        this.#lastLine = line === segment ? segment.slice() : line;
        break;
      }
      if (start === 0) break;
      end = start - 1;
    }
    this.#tail = [];
    this.#tailLen = 0;
    if (last + 1 < c.length) this.#addTail(c.slice(last + 1));
  }

  #addTail(copy: Uint8Array): void {
    this.#tailLen += copy.length;
    if (this.#tailLen > MAX_LINE) {
      throw new IncompleteFileError(
        this.#o.what,
        `has a line longer than ${MAX_LINE / 1024 / 1024} MB, which cannot be checked`,
      );
    }
    this.#tail.push(copy);
  }
}
