/**
 * Writing HTTP/1.1 responses to a socket: framing (Content-Length, or chunked with an optional
 * cap on the chunk size) and the cut-short bodies of the `reset` and `truncate` faults.
 *
 * No byte chunk of a reply is kept after it was written: frames are copied into this module's
 * own batch buffer or written (awaited) before the next chunk is read.
 *
 * @module
 */

import type { Reply } from "./http1.ts";
import { writeAll } from "./http1_parse.ts";

const REASONS: Record<number, string> = {
  200: "OK",
  202: "Accepted",
  204: "No Content",
  307: "Temporary Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  410: "Gone",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

const encoder = new TextEncoder();
const CRLF = encoder.encode("\r\n");
const LAST_CHUNK = encoder.encode("0\r\n\r\n");
/** Small frames are gathered into socket writes of up to this size: 97-byte chunks stay cheap. */
const BATCH_BYTES = 64 * 1024;

/** How one listener frames its replies. */
export interface WriteOptions {
  /**
   * Largest HTTP chunk. When finite, every non-empty body is sent chunked in chunks of at most
   * this many bytes (Deno's fetch then yields at most this many bytes per read). Infinity sends
   * bodies as they come: Content-Length when the length is known, else one chunk per piece.
   */
  chunkBytes: number;
}

/**
 * Chunked transfer encoding onto a socket: frames of at most `maxChunk` bytes, small frames
 * batched into one write. Bytes passed in are copied or written before a call returns.
 */
class ChunkedWriter {
  readonly #buf = new Uint8Array(BATCH_BYTES);
  #used = 0;
  /** The size line of a full-size chunk (most of them), made once. */
  readonly #fullSize: Uint8Array;
  constructor(private readonly conn: Deno.Conn, private readonly maxChunk: number) {
    this.#fullSize = sizeLine(maxChunk === Infinity ? 0 : maxChunk);
  }

  /** Queues bytes as they are (the response head, or a body that is not chunked). */
  async raw(bytes: Uint8Array): Promise<void> {
    if (bytes.length > BATCH_BYTES) {
      await this.flush();
      await writeAll(this.conn, bytes);
      return;
    }
    if (this.#used + bytes.length > BATCH_BYTES) await this.flush();
    this.#put(bytes);
  }

  /** Queues `bytes` as chunks of at most maxChunk bytes (awaiting only to flush a full batch). */
  async chunks(bytes: Uint8Array): Promise<void> {
    const step = Math.min(this.maxChunk, bytes.length);
    for (let at = 0; at < bytes.length; at += step) {
      const piece = bytes.subarray(at, Math.min(bytes.length, at + step));
      const size = piece.length === this.maxChunk ? this.#fullSize : sizeLine(piece.length);
      const frame = size.length + piece.length + CRLF.length;
      if (frame > BATCH_BYTES) {
        await this.flush();
        await writeAll(this.conn, size);
        await writeAll(this.conn, piece);
        await writeAll(this.conn, CRLF);
        continue;
      }
      if (this.#used + frame > BATCH_BYTES) await this.flush();
      this.#put(size);
      this.#put(piece);
      this.#put(CRLF);
    }
  }

  /** Queues a chunk-size line (its data must follow, or the connection is dropped: `reset`). */
  async announce(size: number): Promise<void> {
    await this.raw(sizeLine(size));
  }

  /** Queues the last chunk and writes everything. */
  async end(): Promise<void> {
    await this.raw(LAST_CHUNK);
    await this.flush();
  }

  /** Writes what is queued. */
  async flush(): Promise<void> {
    if (this.#used === 0) return;
    await writeAll(this.conn, this.#buf.subarray(0, this.#used));
    this.#used = 0;
  }

  /** Copies bytes into the batch (the caller made room). */
  #put(bytes: Uint8Array): void {
    this.#buf.set(bytes, this.#used);
    this.#used += bytes.length;
  }
}

/** The size line that starts a chunk of `size` bytes. */
function sizeLine(size: number): Uint8Array {
  return encoder.encode(`${size.toString(16)}\r\n`);
}

function head(status: number, headers: Record<string, string>): Uint8Array {
  let text = `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  return encoder.encode(text + "\r\n");
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Frames and writes one reply. Returns whether the connection may serve another request.
 */
export async function writeReply(
  conn: Deno.Conn,
  reply: Reply,
  options: WriteOptions & { method: string; keepAlive: boolean },
): Promise<boolean> {
  const { method, keepAlive, chunkBytes } = options;
  const headers: Record<string, string> = { date: new Date().toUTCString(), ...reply.headers };
  if (!keepAlive) headers["connection"] = "close";
  let body = reply.body;
  const noBody = method === "HEAD" || reply.status === 204 || reply.status === 304;

  if (
    reply.cut && (body === undefined || noBody || (body instanceof Uint8Array && body.length === 0))
  ) {
    // Nothing to cut in the body: break the head instead, so fetch() itself rejects. A head that
    // merely stops is not enough: Deno's HTTP client silently retries a GET whose reused
    // connection closed before the head completed. A NUL byte makes the head malformed.
    if (body instanceof ReadableStream) await body.cancel();
    const bytes = head(reply.status, headers);
    const part = bytes.subarray(0, Math.min(reply.cut.afterBytes, bytes.length - 4));
    await writeAll(conn, concat(part, encoder.encode("\0\r\n\r\n")));
    return false;
  }
  if (reply.cut && body !== undefined) {
    if (body instanceof ReadableStream && reply.length === undefined) body = await collect(body);
    const total = body instanceof Uint8Array ? body.length : reply.length ?? 0;
    await writeCut(conn, {
      status: reply.status,
      headers,
      body,
      total,
      cut: reply.cut,
      chunkBytes,
    });
    return false;
  }
  if (body === undefined || noBody) {
    if (!noBody) headers["content-length"] = "0";
    else if (body instanceof Uint8Array) headers["content-length"] = String(body.length);
    if (body instanceof ReadableStream) await body.cancel();
    await writeAll(conn, head(reply.status, headers));
    return keepAlive;
  }
  const capped = chunkBytes !== Infinity;
  if (body instanceof Uint8Array && (!capped || body.length === 0)) {
    headers["content-length"] = String(body.length);
    await writeAll(conn, concat(head(reply.status, headers), body));
    return keepAlive;
  }
  if (body instanceof ReadableStream && reply.length !== undefined && !capped) {
    headers["content-length"] = String(reply.length);
    await writeAll(conn, head(reply.status, headers));
    await pump(body, (value) => writeAll(conn, value));
    return keepAlive;
  }
  headers["transfer-encoding"] = "chunked";
  const writer = new ChunkedWriter(conn, chunkBytes);
  await writer.raw(head(reply.status, headers));
  if (body instanceof Uint8Array) {
    await writer.chunks(body);
  } else {
    // Flush after every piece, so a slow stream is not held back waiting for a full batch.
    await pump(body, async (value) => {
      await writer.chunks(value);
      await writer.flush();
    });
  }
  await writer.end();
  return keepAlive;
}

/** Reads a stream to its end, handing each non-empty chunk to `write` (awaited). */
async function pump(
  body: ReadableStream<Uint8Array>,
  write: (value: Uint8Array) => Promise<void>,
): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value.length > 0) await write(value);
    }
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    throw err;
  }
}

/** A reply to cut short, with its framing. */
interface CutReply {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | ReadableStream<Uint8Array>;
  /** Full length of the body. */
  total: number;
  cut: { mode: "reset" | "truncate"; afterBytes: number };
  /** The listener's chunk cap (see {@linkcode WriteOptions}). */
  chunkBytes: number;
}

/**
 * Writes the first `afterBytes` bytes of a body and stops: "truncate" declares the full
 * Content-Length; "reset" uses chunked framing and drops mid-chunk (with a chunk cap, the bytes
 * come in whole chunks of at most that size, then the size line of a chunk that never comes).
 * Either way the client sees the connection end before the body did, so its read fails.
 */
async function writeCut(conn: Deno.Conn, reply: CutReply): Promise<void> {
  const { headers, cut, total, chunkBytes } = reply;
  headers["connection"] = "close";
  if (cut.mode === "truncate") headers["content-length"] = String(total);
  else headers["transfer-encoding"] = "chunked";
  const writer = new ChunkedWriter(conn, chunkBytes);
  await writer.raw(head(reply.status, headers));
  const capped = cut.mode === "reset" && chunkBytes !== Infinity;
  if (cut.mode === "reset" && !capped) {
    // One chunk announced bigger than what follows: the stream can never complete.
    await writer.announce(Math.max(total, cut.afterBytes + 1));
  }
  const send = Math.max(0, Math.min(cut.afterBytes, total - 1));
  let remaining = send;
  const take = async (value: Uint8Array): Promise<void> => {
    const part = value.subarray(0, remaining);
    if (capped) await writer.chunks(part);
    else await writer.raw(part);
    remaining -= part.length;
  };
  if (reply.body instanceof Uint8Array) {
    await take(reply.body);
  } else {
    const reader = reply.body.getReader();
    try {
      while (remaining > 0) {
        const { done, value } = await reader.read();
        if (done) break;
        await take(value);
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }
  if (capped) await writer.announce(Math.min(chunkBytes, total - send));
  await writer.flush();
}
