/**
 * Checks NDJSON bytes line by line, in chunks of any size, in flat memory: lines that lie whole
 * in a chunk go to the fast whole-line check (`json_line.ts`), and only a line that crosses a
 * chunk's end goes to the streaming state machine (`json_stream.ts`), which reads it to its end
 * however long it is. Both report to the same sink, in line order.
 */

import { ID_ABSENT, ID_NOT_STRING, IdSlot, RepeatedString } from "./capture.ts";
import { failureMessage, notObjectMessage, type ScanSink } from "./json_bytes.ts";
import { checkLine, FAILED, LineFacts, NOT_OBJECT, NOT_STRING, OBJECT } from "./json_line.ts";
import { StreamScanner } from "./json_stream.ts";

export type { BadLineCode, ScanSink } from "./json_bytes.ts";

/** Options of {@linkcode NdjsonScanner}. */
export interface NdjsonScannerOptions {
  /** Pass each valid line's text to the sink (for checks that need the whole value). @default false */
  keepLines?: boolean;
}

const UTF8 = new TextDecoder();

/** Checks NDJSON bytes; see the module doc. */
export class NdjsonScanner {
  #line = 1;
  /** A line crossed the last chunk's end: the stream scanner holds its start. */
  #streaming = false;
  readonly #stream: StreamScanner;
  readonly #facts = new LineFacts();
  readonly #types = new RepeatedString();
  readonly #id = new IdSlot();
  readonly #keepLines: boolean;
  /** The chunk's copy, one byte longer: a newline after the data. */
  #buf = new Uint8Array(0);

  constructor(private readonly sink: ScanSink, options: NdjsonScannerOptions = {}) {
    this.#keepLines = options.keepLines ?? false;
    this.#stream = new StreamScanner(sink, { keepLines: this.#keepLines });
  }

  /** Checks the next bytes (borrowed: nothing is kept that points into them). */
  feed(chunk: Uint8Array): void {
    let i = 0;
    if (this.#streaming) {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        this.#stream.feed(chunk);
        return;
      }
      this.#stream.feed(chunk.subarray(0, nl + 1));
      this.#streaming = false;
      this.#line++;
      i = nl + 1;
    }
    // A copy with a newline after it: the fast check needs no bounds and no search for line ends.
    const n = chunk.length;
    if (this.#buf.length < n + 1) this.#buf = new Uint8Array(n + 1);
    const buf = this.#buf;
    buf.set(chunk);
    buf[n] = 0x0a;
    while (i < n) {
      const end = this.#check(buf, i, n);
      if (end < 0) break;
      this.#line++;
      i = end + 1;
    }
    if (i < n) {
      // The line goes on in the next chunk: the stream scanner reads it from its start.
      this.#stream.startLine(this.#line);
      this.#stream.feed(buf.subarray(i, n));
      this.#streaming = true;
    }
  }

  /** Ends the input: a last line without a newline is checked like the others. */
  end(): void {
    if (!this.#streaming) return;
    this.#stream.end();
    this.#streaming = false;
    this.#line++;
  }

  /**
   * Checks the line at `start` and reports it; returns the index of its newline, or -1 when it
   * does not end before `n` (then it is left for the stream scanner, which reports it).
   */
  #check(buf: Uint8Array, start: number, n: number): number {
    const f = this.#facts;
    const kind = checkLine(buf, start, f);
    if (kind === FAILED) {
      const end = buf.indexOf(0x0a, f.failAt);
      if (end >= n) return -1;
      const message = failureMessage(f.code, f.what, buf[f.failAt]!, f.failAt - start + 1);
      this.sink.bad(this.#line, f.code, message);
      return end;
    }
    if (f.end >= n) return -1;
    if (kind === OBJECT) {
      const type = f.typeFrom >= 0
        ? this.#types.value(buf, f.typeFrom, f.typeTo, f.typeEscaped)
        : f.typeFrom === NOT_STRING
        ? null
        : undefined;
      const id = this.#id;
      if (f.idFrom >= 0) id.setBytes(buf, f.idFrom, f.idTo, f.idEscaped);
      else id.setKind(f.idFrom === NOT_STRING ? ID_NOT_STRING : ID_ABSENT);
      const text = this.#keepLines ? UTF8.decode(buf.subarray(start, f.end)) : undefined;
      this.sink.object(this.#line, type, id, text);
    } else if (kind === NOT_OBJECT) {
      this.sink.bad(this.#line, "not-object", notObjectMessage(f.first));
    }
    return f.end;
  }
}
