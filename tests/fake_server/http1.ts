/**
 * A minimal HTTP/1.1 server on a raw `Deno.listen` socket.
 *
 * Why not `Deno.serve`: faults must cut a body short so that the client's read fails, and
 * `Deno.serve` can only do that by erroring the body stream, which makes Deno print a stack
 * trace to stderr for every injected fault. Owning the socket gives exact control of the bytes
 * on the wire (chunked vs Content-Length, where the connection drops) and streams big synthetic
 * files at well over 1 GB/s on loopback.
 *
 * @module
 */

import { readRequest, RequestReader, writeAll } from "./http1_parse.ts";

/** A parsed request, as read from the socket. */
export interface RawRequest {
  /** Upper-case method. */
  method: string;
  /** Path as sent (not decoded), without the query. */
  path: string;
  /** Raw query string without "?" ("" when none). */
  query: string;
  /** Headers with lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The request body (empty when none). */
  body: Uint8Array;
}

/** What the application answers; the transport frames it. */
export interface Reply {
  /** Status code. */
  status: number;
  /** Response headers, lower-cased names. Content-Length and framing are added here. */
  headers: Record<string, string>;
  /** The body: bytes, or a stream (sent with `length` as Content-Length, else chunked). */
  body?: Uint8Array | ReadableStream<Uint8Array>;
  /** Byte length of a stream body, when known. */
  length?: number;
  /** A fault: cut the body short after `afterBytes` bytes and drop the connection. */
  cut?: { mode: "reset" | "truncate"; afterBytes: number };
}

/** Answers one request; `signal` aborts when the listener closes. */
export type Handler = (request: RawRequest, signal: AbortSignal) => Promise<Reply>;

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

/** One listening socket serving HTTP/1.1 with keep-alive. */
export class Http1Listener {
  readonly #listener: Deno.TcpListener;
  readonly #handler: Handler;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #acceptLoop: Promise<void> | undefined;

  private constructor(listener: Deno.TcpListener, handler: Handler) {
    this.#listener = listener;
    this.#handler = handler;
  }

  /** Listens on `hostname`, port 0 (a free port), and starts accepting. */
  static listen(hostname: string, handler: Handler): Http1Listener {
    const server = new Http1Listener(Deno.listen({ hostname, port: 0 }), handler);
    server.#acceptLoop = server.#accept();
    return server;
  }

  /** The port the OS picked. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Stops accepting, drops every connection and waits for all handlers to finish. */
  async close(): Promise<void> {
    this.#abort.abort(new Error("server closed"));
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const conn of this.#conns) closeQuietly(conn);
    await this.#acceptLoop;
    await Promise.all([...this.#tasks]);
  }

  async #accept(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // listener closed
      }
      conn.setNoDelay(true);
      this.#conns.add(conn);
      const task = this.#serveConnection(conn).finally(() => {
        this.#conns.delete(conn);
        this.#tasks.delete(task);
        closeQuietly(conn);
      });
      this.#tasks.add(task);
    }
  }

  async #serveConnection(conn: Deno.TcpConn): Promise<void> {
    const reader = new RequestReader(conn);
    try {
      while (!this.#abort.signal.aborted) {
        let request: RawRequest | null;
        try {
          request = await readRequest(reader);
        } catch (err) {
          if (err instanceof SyntaxError) {
            await writeAll(conn, encoder.encode(badRequestText(err.message)));
          }
          return;
        }
        if (request === null) return;
        let reply: Reply;
        try {
          reply = await this.#handler(request, this.#abort.signal);
        } catch (err) {
          if (this.#abort.signal.aborted) return;
          reply = {
            status: 500,
            headers: { "content-type": "text/plain" },
            body: encoder.encode(`fake server bug: ${err instanceof Error ? err.stack : err}`),
          };
        }
        const keepAlive = request.headers["connection"]?.toLowerCase() !== "close";
        const kept = await writeReply(conn, request.method, reply, keepAlive);
        if (!kept) return;
      }
    } catch {
      // The peer went away or the listener closed: nothing to answer to.
    }
  }
}

function badRequestText(message: string): string {
  const body = `bad request: ${message}`;
  return `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n` +
    `connection: close\r\n\r\n${body}`;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
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
async function writeReply(
  conn: Deno.Conn,
  method: string,
  reply: Reply,
  keepAlive: boolean,
): Promise<boolean> {
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
    await writeCut(conn, reply.status, headers, body, total, reply.cut);
    return false;
  }
  if (body === undefined || noBody) {
    if (!noBody) headers["content-length"] = "0";
    else if (body instanceof Uint8Array) headers["content-length"] = String(body.length);
    if (body instanceof ReadableStream) await body.cancel();
    await writeAll(conn, head(reply.status, headers));
    return keepAlive;
  }
  if (body instanceof Uint8Array) {
    headers["content-length"] = String(body.length);
    await writeAll(conn, concat(head(reply.status, headers), body));
    return keepAlive;
  }
  const chunked = reply.length === undefined;
  if (chunked) headers["transfer-encoding"] = "chunked";
  else headers["content-length"] = String(reply.length);
  await writeAll(conn, head(reply.status, headers));
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.length === 0) continue;
      if (chunked) await writeAll(conn, encoder.encode(`${value.length.toString(16)}\r\n`));
      await writeAll(conn, value);
      if (chunked) await writeAll(conn, encoder.encode("\r\n"));
    }
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    throw err;
  }
  if (chunked) await writeAll(conn, encoder.encode("0\r\n\r\n"));
  return keepAlive;
}

/**
 * Writes the first `afterBytes` bytes of a body and stops: "truncate" declares the full
 * Content-Length; "reset" uses chunked framing and drops mid-chunk. Either way the client
 * sees the connection end before the body did, so its read fails.
 */
async function writeCut(
  conn: Deno.Conn,
  status: number,
  headers: Record<string, string>,
  body: Uint8Array | ReadableStream<Uint8Array>,
  total: number,
  cut: { mode: "reset" | "truncate"; afterBytes: number },
): Promise<void> {
  headers["connection"] = "close";
  if (cut.mode === "truncate") headers["content-length"] = String(total);
  else headers["transfer-encoding"] = "chunked";
  await writeAll(conn, head(status, headers));
  if (cut.mode === "reset") {
    // One chunk announced bigger than what follows: the stream can never complete.
    await writeAll(conn, encoder.encode(`${Math.max(total, cut.afterBytes + 1).toString(16)}\r\n`));
  }
  let remaining = Math.max(0, Math.min(cut.afterBytes, total - 1));
  if (body instanceof Uint8Array) {
    await writeAll(conn, body.subarray(0, remaining));
    return;
  }
  const reader = body.getReader();
  try {
    while (remaining > 0) {
      const { done, value } = await reader.read();
      if (done) break;
      const part = value.subarray(0, remaining);
      await writeAll(conn, part);
      remaining -= part.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
