/**
 * A streaming scanner for the top level of one JSON object: it finds the values of chosen
 * top-level string keys (`resourceType`, a Binary's `data`) without parsing the whole value,
 * byte by byte across any number of chunks. It keeps no reference to the bytes it is given
 * (STYLE: a chunk is borrowed), so callers may reuse their buffers at once.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The value was not what a FHIR resource's JSON can be. */
export class JsonShapeError extends Error {}

/** Receives the (still JSON-escaped, but escapes already decoded) bytes of a chosen key's value. */
export interface ValueHandler {
  /** Bytes `bytes[start..end)` of the string value of `key` (may be called many times). */
  bytes(key: string, bytes: Uint8Array, start: number, end: number): void;
  /** The value of `key` ended. Return true to stop scanning. */
  end(key: string): boolean;
}

const enum S {
  Start,
  ExpectKey,
  InKey,
  KeyEscape,
  AfterKey,
  ExpectValue,
  InTarget,
  TargetEscape,
  TargetUnicode,
  InSkipString,
  SkipEscape,
  Nested,
  NestedString,
  NestedEscape,
  Literal,
  AfterValue,
  Done,
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

const ESCAPES: Record<number, number> = {
  0x22: 0x22,
  0x5c: 0x5c,
  0x2f: 0x2f,
  0x62: 0x08,
  0x66: 0x0c,
  0x6e: 0x0a,
  0x72: 0x0d,
  0x74: 0x09,
};

/** Scans one JSON object's top level, reporting the string values of `keys`. */
export class TopLevelScanner {
  #state = S.Start;
  #key = "";
  #nest = 0;
  #unicode = "";
  readonly #one = new Uint8Array(1);
  /** True once the handler asked to stop, or the object ended. */
  stopped = false;

  constructor(private readonly keys: ReadonlySet<string>, private readonly handler: ValueHandler) {}

  /** True when the object's closing brace was seen. */
  get done(): boolean {
    return this.#state === S.Done;
  }

  /**
   * Scans `bytes[from..to)`. Returns the index after the last byte used: `to`, or earlier when
   * the handler stopped the scan. Throws a JsonShapeError when the bytes are not a JSON object.
   */
  feed(bytes: Uint8Array, from: number, to: number): number {
    let i = from;
    while (i < to && !this.stopped) {
      const b = bytes[i]!;
      switch (this.#state) {
        case S.Start:
          if (b === 0x7b) this.#state = S.ExpectKey;
          else if (!isSpace(b)) throw new JsonShapeError("it is not a JSON object");
          i++;
          break;
        case S.ExpectKey:
          if (b === QUOTE) {
            this.#state = S.InKey;
            this.#key = "";
          } else if (b === 0x7d) this.#finish();
          else if (!isSpace(b)) throw new JsonShapeError("a key is missing");
          i++;
          break;
        case S.InKey:
          if (b === QUOTE) this.#state = S.AfterKey;
          else if (b === BACKSLASH) this.#state = S.KeyEscape;
          else if (this.#key.length < 64) this.#key += String.fromCharCode(b);
          i++;
          break;
        case S.KeyEscape:
          this.#key += "\\";
          this.#state = S.InKey;
          i++;
          break;
        case S.AfterKey:
          if (b === 0x3a) this.#state = S.ExpectValue;
          else if (!isSpace(b)) throw new JsonShapeError("a ':' is missing");
          i++;
          break;
        case S.ExpectValue:
          if (b === QUOTE) this.#state = this.keys.has(this.#key) ? S.InTarget : S.InSkipString;
          else if (b === 0x7b || b === 0x5b) {
            this.#state = S.Nested;
            this.#nest = 1;
          } else if (!isSpace(b)) this.#state = S.Literal;
          i++;
          break;
        case S.InTarget: {
          // Runs of plain bytes go to the handler in one call.
          let j = i;
          while (j < to && bytes[j] !== QUOTE && bytes[j] !== BACKSLASH) j++;
          if (j > i) this.handler.bytes(this.#key, bytes, i, j);
          if (j >= to) return to;
          if (bytes[j] === BACKSLASH) this.#state = S.TargetEscape;
          else {
            this.#state = S.AfterValue;
            if (this.handler.end(this.#key)) this.stopped = true;
          }
          i = j + 1;
          break;
        }
        case S.TargetEscape: {
          if (b === 0x75) {
            this.#state = S.TargetUnicode;
            this.#unicode = "";
          } else {
            const c = ESCAPES[b];
            if (c === undefined) throw new JsonShapeError("a string has a bad escape");
            this.#emitChar(c);
            this.#state = S.InTarget;
          }
          i++;
          break;
        }
        case S.TargetUnicode:
          this.#unicode += String.fromCharCode(b);
          if (this.#unicode.length === 4) {
            const code = parseInt(this.#unicode, 16);
            if (!(code < 0x80)) throw new JsonShapeError("a chosen value is not ASCII");
            this.#emitChar(code);
            this.#state = S.InTarget;
          }
          i++;
          break;
        case S.InSkipString: {
          let j = i;
          while (j < to && bytes[j] !== QUOTE && bytes[j] !== BACKSLASH) j++;
          if (j >= to) return to;
          this.#state = bytes[j] === BACKSLASH ? S.SkipEscape : S.AfterValue;
          i = j + 1;
          break;
        }
        case S.SkipEscape:
          this.#state = S.InSkipString;
          i++;
          break;
        case S.Nested:
          if (b === QUOTE) this.#state = S.NestedString;
          else if (b === 0x7b || b === 0x5b) this.#nest++;
          else if ((b === 0x7d || b === 0x5d) && --this.#nest === 0) this.#state = S.AfterValue;
          i++;
          break;
        case S.NestedString: {
          let j = i;
          while (j < to && bytes[j] !== QUOTE && bytes[j] !== BACKSLASH) j++;
          if (j >= to) return to;
          this.#state = bytes[j] === BACKSLASH ? S.NestedEscape : S.Nested;
          i = j + 1;
          break;
        }
        case S.NestedEscape:
          this.#state = S.NestedString;
          i++;
          break;
        case S.Literal:
          if (b === 0x2c) this.#state = S.ExpectKey;
          else if (b === 0x7d) this.#finish();
          else if (isSpace(b)) this.#state = S.AfterValue;
          i++;
          break;
        case S.AfterValue:
          if (b === 0x2c) this.#state = S.ExpectKey;
          else if (b === 0x7d) this.#finish();
          else if (!isSpace(b)) throw new JsonShapeError("a ',' or '}' is missing");
          i++;
          break;
        case S.Done:
          if (!isSpace(b)) throw new JsonShapeError("something follows the object");
          i++;
          break;
      }
    }
    return i;
  }

  #emitChar(code: number): void {
    this.#one[0] = code;
    this.handler.bytes(this.#key, this.#one, 0, 1);
  }

  #finish(): void {
    this.#state = S.Done;
    this.stopped = true;
  }
}
