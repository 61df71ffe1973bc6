/**
 * A minimal HTTP/1.1 server on a raw `Deno.listen` socket.
 *
 * Why not `Deno.serve`: faults must cut a body short so that the client's read fails, and
 * `Deno.serve` can only do that by erroring the body stream, which makes Deno print a stack
 * trace to stderr for every injected fault. Owning the socket gives exact control of the bytes
 * on the wire (chunked vs Content-Length, where the connection drops) and streams big synthetic
 * files at well over 1 GB/s on loopback. Requests are parsed in http1_parse.ts; replies are
 * framed in http1_write.ts.
 *
 * @module
 */

import { readRequest, RequestReader, writeAll } from "./http1_parse.ts";
import { type WriteOptions, writeReply } from "./http1_write.ts";

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
  /**
   * The body: bytes, or a stream (sent with `length` as Content-Length, else chunked). With the
   * listener's `chunkBytes` cap, every non-empty body is chunked.
   */
  body?: Uint8Array | ReadableStream<Uint8Array>;
  /** Byte length of a stream body, when known. */
  length?: number;
  /** A fault: cut the body short after `afterBytes` bytes and drop the connection. */
  cut?: { mode: "reset" | "truncate"; afterBytes: number };
}

/** Answers one request; `signal` aborts when the listener closes. */
export type Handler = (request: RawRequest, signal: AbortSignal) => Promise<Reply>;

const encoder = new TextEncoder();

/** One listening socket serving HTTP/1.1 with keep-alive. */
export class Http1Listener {
  readonly #listener: Deno.TcpListener;
  readonly #handler: Handler;
  readonly #options: WriteOptions;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #acceptLoop: Promise<void> | undefined;

  private constructor(listener: Deno.TcpListener, handler: Handler, options: WriteOptions) {
    this.#listener = listener;
    this.#handler = handler;
    this.#options = options;
  }

  /** Listens on `hostname`, port 0 (a free port), and starts accepting; `options` set framing. */
  static listen(
    hostname: string,
    handler: Handler,
    options: WriteOptions = { chunkBytes: Infinity },
  ): Http1Listener {
    const server = new Http1Listener(Deno.listen({ hostname, port: 0 }), handler, options);
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
        const kept = await writeReply(conn, reply, {
          ...this.#options,
          method: request.method,
          keepAlive,
        });
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
