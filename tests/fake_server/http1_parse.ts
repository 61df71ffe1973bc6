/**
 * Reading HTTP/1.1 requests from a socket: head, Content-Length and chunked bodies.
 *
 * @module
 */

import type { RawRequest } from "./http1.ts";

const MAX_HEAD = 64 * 1024;
const decoder = new TextDecoder();

/** Writes every byte, looping over partial writes. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** A buffered reader over a connection. */
export class RequestReader {
  #buf = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;
  #eof = false;
  constructor(private readonly conn: Deno.Conn) {}

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Reads more bytes into the buffer; false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#end === this.#buf.length) {
      const live = this.#end - this.#start;
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf.subarray(0, this.#end));
        this.#buf = bigger;
      }
      this.#start = 0;
      this.#end = live;
    }
    const n = await this.conn.read(this.#buf.subarray(this.#end));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    return true;
  }

  /** Index (relative to the unconsumed bytes) of a byte sequence, or -1. */
  indexOf(pattern: number[]): number {
    outer: for (let i = this.#start; i + pattern.length <= this.#end; i++) {
      for (let j = 0; j < pattern.length; j++) {
        if (this.#buf[i + j] !== pattern[j]) continue outer;
      }
      return i - this.#start;
    }
    return -1;
  }

  /** Consumes and returns `n` buffered bytes (a copy). */
  take(n: number): Uint8Array {
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return out;
  }

  /** Sends the interim `100 Continue` a client asked for with `Expect: 100-continue`. */
  async sendContinue(): Promise<void> {
    await writeAll(this.conn, new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n"));
  }

  /** Reads exactly `n` bytes. */
  async readExact(n: number): Promise<Uint8Array> {
    while (this.buffered < n) {
      if (!(await this.fill())) throw new SyntaxError("connection closed inside the body");
    }
    return this.take(n);
  }

  /** Reads one CRLF-terminated line (without the CRLF). */
  async readLine(): Promise<string> {
    for (;;) {
      const at = this.indexOf([13, 10]);
      if (at >= 0) {
        const line = decoder.decode(this.take(at));
        this.take(2);
        return line;
      }
      if (this.buffered > MAX_HEAD) throw new SyntaxError("line too long");
      if (!(await this.fill())) throw new SyntaxError("connection closed inside a line");
    }
  }
}

/**
 * Reads the next request. Returns null when the peer closed the connection between requests;
 * throws SyntaxError on a malformed request.
 */
export async function readRequest(reader: RequestReader): Promise<RawRequest | null> {
  let end: number;
  for (;;) {
    end = reader.indexOf([13, 10, 13, 10]);
    if (end >= 0) break;
    if (reader.buffered > MAX_HEAD) throw new SyntaxError("request head too large");
    if (!(await reader.fill())) {
      if (reader.buffered === 0) return null;
      throw new SyntaxError("connection closed inside the request head");
    }
  }
  const lines = decoder.decode(reader.take(end + 4)).split("\r\n");
  const [method, target, version] = (lines[0] ?? "").split(" ");
  if (!method || !target || !version?.startsWith("HTTP/1.")) {
    throw new SyntaxError(`bad request line "${lines[0]}"`);
  }
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new SyntaxError(`bad header line "${line}"`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  if (version === "HTTP/1.0" && headers["connection"]?.toLowerCase() !== "keep-alive") {
    headers["connection"] ??= "close";
  }
  if (headers["expect"]?.toLowerCase() === "100-continue") await reader.sendContinue();
  const body = await readBody(reader, headers);
  const q = target.indexOf("?");
  return {
    method: method.toUpperCase(),
    path: q >= 0 ? target.slice(0, q) : target,
    query: q >= 0 ? target.slice(q + 1) : "",
    headers,
    body,
  };
}

async function readBody(
  reader: RequestReader,
  headers: Record<string, string>,
): Promise<Uint8Array> {
  if (headers["transfer-encoding"]?.toLowerCase().includes("chunked")) {
    const parts: Uint8Array[] = [];
    for (;;) {
      const size = parseInt((await reader.readLine()).split(";")[0] ?? "", 16);
      if (!Number.isFinite(size) || size < 0) throw new SyntaxError("bad chunk size");
      if (size === 0) {
        while ((await reader.readLine()) !== "") { /* skip trailers */ }
        break;
      }
      parts.push(await reader.readExact(size));
      await reader.readExact(2);
    }
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
  const length = Number(headers["content-length"] ?? "0");
  if (!Number.isInteger(length) || length < 0) throw new SyntaxError("bad content-length");
  return length === 0 ? new Uint8Array(0) : await reader.readExact(length);
}
