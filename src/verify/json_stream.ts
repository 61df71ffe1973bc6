/**
 * A streaming, validating JSON line scanner: a state machine that reads NDJSON in chunks of any
 * size, so a line may span many chunks and be any length, in flat memory. It checks strict JSON
 * (RFC 8259, as `JSON.parse` takes it) in valid UTF-8 and reports each line's top-level
 * `resourceType` and `id`. It keeps no reference to the chunks it is given (STYLE: a chunk is
 * borrowed). {@linkcode NdjsonScanner} uses it only for lines that do not fit in one chunk;
 * lines that do are checked faster by `json_line.ts`, which must agree with it byte for byte.
 */

import {
  ByteBuffer,
  bytesAre,
  ID_ABSENT,
  ID_NOT_STRING,
  IdSlot,
  RepeatedString,
  stringValue,
} from "./capture.ts";
import {
  type BadLineCode,
  failureMessage,
  IS_ESCAPE,
  IS_HEX,
  LITERALS,
  MAX_DEPTH,
  notObjectMessage,
  type ScanSink,
  STR_CLASS,
  utf8Continuations,
  utf8SecondHigh,
  utf8SecondLow,
  WHAT,
} from "./json_bytes.ts";

/** Options of {@linkcode StreamScanner}. */
export interface StreamScannerOptions {
  /** Pass each valid line's text to the sink (for checks that need the whole value). @default false */
  keepLines?: boolean;
}

// States.
const LINE_START = 0, VALUE = 1, OBJ_FIRST = 2, OBJ_KEY = 3, COLON = 4, ARR_FIRST = 5;
const AFTER_VALUE = 6, STRING = 7, ESCAPE = 8, UNICODE = 9, UTF8 = 10, NUMBER = 11;
const LITERAL = 12, LINE_END = 13, SKIP = 14;
// Number sub-states (RFC 8259 section 6); ZERO, INT, FRAC and EXP may end the number.
const N_MINUS = 0, N_ZERO = 1, N_INT = 2, N_DOT = 3, N_FRAC = 4, N_E = 5, N_SIGN = 6, N_EXP = 7;
// Kinds of string: a value, a key, or kept: a top-level key, the resourceType or id value.
const K_VALUE = 0, K_KEY = 1, K_TOP_KEY = 2, K_TYPE = 3, K_ID = 4;
// What the value of the last top-level key is kept for.
const T_NONE = 0, T_TYPE = 1, T_ID = 2;
/** The streaming scanner; see the module doc. */
export class StreamScanner {
  #state = LINE_START;
  readonly #stack = new Uint8Array(MAX_DEPTH + 1); // 1: object, 2: array
  #depth = 0;
  #kind = K_VALUE;
  #target = T_NONE;
  #num = 0;
  #lit: readonly number[] = LITERALS[0]!;
  #litAt = 0;
  #hexLeft = 0;
  #utf8Need = 0;
  #utf8Lo = 0;
  #utf8Hi = 0;
  /** The first byte of the line's value: `{` for an object. */
  #first = 0;
  #type: string | null | undefined = undefined;
  readonly #id = new IdSlot();
  #line = 1;
  /** Bytes fed before the current chunk, and the absolute offset where the line began. */
  #base = 0;
  #lineStart = 0;
  /** Where, in the last chunk, the open string and the line began (for the copies). */
  #strStart = 0;
  #lineFrom = 0;
  /** The kept string has escapes; it began in an earlier chunk (its start is copied). */
  #escaped = false;
  #split = false;
  readonly #capture = new ByteBuffer();
  readonly #types = new RepeatedString();
  readonly #text: ByteBuffer | undefined;

  constructor(private readonly sink: ScanSink, options: StreamScannerOptions = {}) {
    this.#text = options.keepLines ? new ByteBuffer(Infinity) : undefined;
  }

  /** Scans the next bytes. */
  feed(buf: Uint8Array): void {
    this.#scan(buf);
    const n = buf.length;
    const state = this.#state;
    if (state >= STRING && state <= UTF8 && this.#kind >= K_TOP_KEY) {
      // The string goes on in the next chunk: keep a copy of its start.
      if (!this.#split) this.#capture.reset();
      this.#split = true;
      this.#capture.add(buf, this.#strStart, n);
    }
    if (this.#text && state !== SKIP && state !== LINE_START) {
      this.#text.add(buf, this.#lineFrom, n);
    }
    this.#base += n;
  }

  /** Numbers the next line `line` (when lines before it were checked elsewhere). */
  startLine(line: number): void {
    this.#line = line;
  }

  /** Ends the input: a last line without a newline is checked like the others. */
  end(): void {
    if (this.#state === LINE_START || this.#state === SKIP) return;
    this.feed(NEWLINE);
  }

  /**
   * The state machine over one chunk. Kept apart from the bookkeeping in feed(): V8 optimizes
   * this loop while it runs, and code after such a loop that never ran before makes it throw
   * the optimized code away at every chunk. Strings, which hold most bytes, are tested first;
   * the usual `"key":` and `,"` are taken in one step.
   */
  #scan(buf: Uint8Array): void {
    const n = buf.length;
    const stack = this.#stack;
    let i = 0;
    let state = this.#state;
    let depth = this.#depth;
    let kind = this.#kind;
    let target = this.#target;
    let strStart = 0;
    let lineFrom = 0;
    while (i < n) {
      if (state === STRING) {
        let c = 0;
        while (i < n && (c = STR_CLASS[buf[i]!]!) === 0) i++;
        if (i === n) break;
        if (c === 1) {
          if (kind >= K_TOP_KEY) target = this.#kept(kind, buf, strStart, i);
          i++;
          if (kind === K_KEY || kind === K_TOP_KEY) {
            if (i < n && buf[i] === 0x3a) {
              i++;
              state = VALUE;
            } else state = COLON;
          } else state = depth === 0 ? LINE_END : AFTER_VALUE;
        } else if (c === 2) {
          if (kind >= K_TOP_KEY) this.#escaped = true;
          state = ESCAPE;
          i++;
        } else if (c === 4) {
          const lead = buf[i]!;
          this.#utf8Need = utf8Continuations(lead);
          if (this.#utf8Need < 0) {
            state = this.#fail(i, "bad-utf8", "", buf);
            continue;
          }
          this.#utf8Lo = utf8SecondLow(lead);
          this.#utf8Hi = utf8SecondHigh(lead);
          state = UTF8;
          i++;
        } else {
          state = this.#fail(i, "bad-json", WHAT.control, buf);
        }
        continue;
      }
      const b = buf[i]!;
      switch (state) {
        case AFTER_VALUE:
          if (b === 0x2c) {
            i++;
            if (stack[depth] !== 1) state = VALUE;
            else if (i < n && buf[i] === 0x22) {
              kind = depth === 1 ? K_TOP_KEY : K_KEY;
              this.#escaped = this.#split = false;
              strStart = ++i;
              state = STRING;
            } else state = OBJ_KEY;
          } else if (b === (stack[depth] === 1 ? 0x7d : 0x5d)) {
            depth--;
            state = depth === 0 ? LINE_END : AFTER_VALUE;
            i++;
          } else if (b === 0x20 || b === 0x09 || b === 0x0d) i++;
          else state = this.#fail(i, "bad-json", "", buf);
          break;
        case VALUE:
        case ARR_FIRST: {
          if (b === 0x20 || b === 0x09 || b === 0x0d) {
            i++;
            break;
          }
          if (state === ARR_FIRST && b === 0x5d) {
            depth--;
            state = depth === 0 ? LINE_END : AFTER_VALUE;
            i++;
            break;
          }
          const kept = depth === 1 ? target : T_NONE;
          target = T_NONE;
          if (b === 0x22) {
            kind = kept === T_TYPE ? K_TYPE : kept === T_ID ? K_ID : K_VALUE;
            this.#escaped = this.#split = false;
            strStart = ++i;
            state = STRING;
            break;
          }
          if (kept === T_TYPE) this.#type = null;
          else if (kept === T_ID) this.#id.setKind(ID_NOT_STRING);
          if (b === 0x7b || b === 0x5b) {
            if (depth === MAX_DEPTH) {
              state = this.#fail(i, "bad-json", WHAT.deep, buf);
              break;
            }
            stack[++depth] = b === 0x7b ? 1 : 2;
            state = b === 0x7b ? OBJ_FIRST : ARR_FIRST;
            i++;
          } else if (b === 0x2d || (b >= 0x30 && b <= 0x39)) {
            this.#num = b === 0x2d ? N_MINUS : b === 0x30 ? N_ZERO : N_INT;
            state = NUMBER;
            i++;
          } else if (b === 0x74 || b === 0x66 || b === 0x6e) {
            this.#lit = LITERALS[b === 0x74 ? 0 : b === 0x66 ? 1 : 2]!;
            this.#litAt = 1;
            state = LITERAL;
            i++;
          } else state = this.#fail(i, "bad-json", "", buf);
          break;
        }
        case OBJ_FIRST:
        case OBJ_KEY:
          if (b === 0x22) {
            kind = depth === 1 ? K_TOP_KEY : K_KEY;
            this.#escaped = this.#split = false;
            strStart = ++i;
            state = STRING;
          } else if (b === 0x20 || b === 0x09 || b === 0x0d) i++;
          else if (b === 0x7d && state === OBJ_FIRST) {
            depth--;
            state = depth === 0 ? LINE_END : AFTER_VALUE;
            i++;
          } else state = this.#fail(i, "bad-json", "", buf);
          break;
        case COLON:
          if (b === 0x3a) {
            state = VALUE;
            i++;
          } else if (b === 0x20 || b === 0x09 || b === 0x0d) i++;
          else state = this.#fail(i, "bad-json", "", buf);
          break;
        case NUMBER: {
          const s = this.#num;
          let next = -1;
          if (b >= 0x30 && b <= 0x39) {
            if (s === N_MINUS) next = b === 0x30 ? N_ZERO : N_INT;
            else if (s === N_DOT) next = N_FRAC;
            else if (s === N_E || s === N_SIGN) next = N_EXP;
            else if (s !== N_ZERO) next = s;
          } else if (b === 0x2e) next = s === N_ZERO || s === N_INT ? N_DOT : -1;
          else if (b === 0x65 || b === 0x45) {
            next = s === N_ZERO || s === N_INT || s === N_FRAC ? N_E : -1;
          } else if (b === 0x2b || b === 0x2d) next = s === N_E ? N_SIGN : -1;
          if (next >= 0) {
            this.#num = next;
            i++;
          } else if (s === N_ZERO || s === N_INT || s === N_FRAC || s === N_EXP) {
            state = depth === 0 ? LINE_END : AFTER_VALUE; // the byte is looked at again
          } else state = this.#fail(i, "bad-json", WHAT.number, buf);
          break;
        }
        case ESCAPE:
          if (b === 0x75) {
            this.#hexLeft = 4;
            state = UNICODE;
            i++;
          } else if (IS_ESCAPE[b]) {
            state = STRING;
            i++;
          } else state = this.#fail(i, "bad-json", WHAT.escape, buf);
          break;
        case UNICODE:
          if (!IS_HEX[b]) state = this.#fail(i, "bad-json", WHAT.unicode, buf);
          else {
            if (--this.#hexLeft === 0) state = STRING;
            i++;
          }
          break;
        case UTF8:
          if (b < this.#utf8Lo || b > this.#utf8Hi) state = this.#fail(i, "bad-utf8", "", buf);
          else {
            this.#utf8Lo = 0x80;
            this.#utf8Hi = 0xbf;
            if (--this.#utf8Need === 0) state = STRING;
            i++;
          }
          break;
        case LITERAL:
          if (b !== this.#lit[this.#litAt]) state = this.#fail(i, "bad-json", "", buf);
          else {
            i++;
            if (++this.#litAt === this.#lit.length) state = depth === 0 ? LINE_END : AFTER_VALUE;
          }
          break;
        case LINE_START:
          if (b === 0x7b) {
            this.#first = b;
            stack[++depth] = 1;
            state = OBJ_FIRST;
            i++;
          } else if (b === 0x0a) {
            this.#line++; // a blank line: Cumulus ETL skips it, and so do we
            this.#lineStart = this.#base + ++i;
            lineFrom = i;
            this.#text?.reset();
          } else if (b === 0x20 || b === 0x09 || b === 0x0d) i++;
          else {
            this.#first = b;
            state = VALUE;
          }
          break;
        case LINE_END:
          if (b === 0x0a) {
            this.#text?.add(buf, lineFrom, i);
            this.#endLine();
            this.#lineStart = this.#base + ++i;
            lineFrom = i;
            state = LINE_START;
          } else if (b === 0x20 || b === 0x09 || b === 0x0d) i++;
          else state = this.#fail(i, "bad-json", "", buf);
          break;
        case SKIP: {
          // After a problem: on to the end of the line, which starts afresh.
          const nl = buf.indexOf(0x0a, i);
          if (nl < 0) {
            i = n;
            break;
          }
          this.#line++;
          i = nl + 1;
          this.#lineStart = this.#base + i;
          lineFrom = i;
          this.#text?.reset();
          depth = 0;
          target = T_NONE;
          state = LINE_START;
          break;
        }
      }
    }
    this.#state = state;
    this.#depth = depth;
    this.#kind = kind;
    this.#target = target;
    this.#strStart = strStart;
    this.#lineFrom = lineFrom;
  }

  #endLine(): void {
    if (this.#first !== 0x7b) {
      this.sink.bad(this.#line, "not-object", notObjectMessage(this.#first));
    } else {
      const text = this.#text && DECODER.decode(this.#text.bytes.subarray(0, this.#text.length));
      this.sink.object(this.#line, this.#type, this.#id, text);
    }
    this.#line++;
    this.#type = undefined;
    this.#id.setKind(ID_ABSENT);
    this.#text?.reset();
  }

  /**
   * A kept string ended at `buf[to]`: a top-level key (returns what its value is kept for) or
   * the value of `resourceType` or `id`.
   */
  #kept(kind: number, buf: Uint8Array, from: number, to: number): number {
    let bytes = buf;
    if (this.#split) {
      this.#capture.add(buf, from, to);
      if (this.#capture.overflow) {
        if (kind === K_TYPE) this.#type = null;
        else if (kind === K_ID) this.#id.setKind(ID_NOT_STRING);
        return T_NONE;
      }
      [bytes, from, to] = [this.#capture.bytes, 0, this.#capture.length];
    }
    const escaped = this.#escaped;
    if (kind === K_TOP_KEY) {
      if (escaped) return keyTarget(stringValue(bytes, from, to, true));
      return bytesAre(bytes, from, to, RESOURCE_TYPE)
        ? T_TYPE
        : bytesAre(bytes, from, to, ID)
        ? T_ID
        : T_NONE;
    }
    if (kind === K_TYPE) this.#type = this.#types.value(bytes, from, to, escaped);
    else this.#id.setText(stringValue(bytes, from, to, escaped));
    return T_NONE;
  }

  /** Reports a problem at byte `i` of `buf`; returns the state that skips the rest of the line. */
  #fail(i: number, code: BadLineCode, what: string, buf: Uint8Array): number {
    const column = this.#base + i - this.#lineStart + 1;
    this.sink.bad(this.#line, code, failureMessage(code, what, buf[i]!, column));
    this.#type = undefined;
    this.#id.setKind(ID_ABSENT);
    return SKIP;
  }
}

const NEWLINE = new Uint8Array([0x0a]);

const RESOURCE_TYPE = new TextEncoder().encode("resourceType");
const ID = new TextEncoder().encode("id");
const DECODER = new TextDecoder();

/** What the value of a top-level key (written with escapes) is kept for. */
function keyTarget(key: string): number {
  return key === "resourceType" ? T_TYPE : key === "id" ? T_ID : T_NONE;
}

/**
 * Runs the scanner over a small sample in small pieces, once, so that V8 sees every path of
 * the loop (its exit included) before it optimizes it. Without this, the first big chunk gets
 * the loop compiled on the fly with no feedback for its exit, and V8 throws that code away at
 * the end of every chunk: three times slower.
 */
function warmUp(): void {
  const sample = new TextEncoder().encode(
    '{"resourceType":"Patient","id":"p-1","a":[1,-2.5e+3,0,true,false,null,{}],"b":{"c":"\\u00e9\\n"}}\n' +
      '\n  {"resourceType" : "Observation", "id":"o\\"1", "v": "d\u00e9j\u00e0 \u{1F600}", "n": [] }\r\n' +
      '{"x":1,}\n[1]\n"s"\n{"id":2}\n{"resourceType":"X","id":"y"',
  );
  const sink: ScanSink = { object() {}, bad() {} };
  for (let round = 0; round < 40; round++) {
    const scanner = new StreamScanner(sink, { keepLines: round % 2 === 1 });
    const step = 1 + (round % 13);
    for (let i = 0; i < sample.length; i += step) scanner.feed(sample.subarray(i, i + step));
    scanner.end();
  }
}
warmUp();
