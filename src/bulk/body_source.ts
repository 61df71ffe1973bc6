/**
 * Where a download's bytes come from, as a plain pull loop (one promise per chunk, not a chain
 * of stream stages): the socket, read into one reused buffer, or a decoding step over another
 * source. Only failures of the socket itself become "connection lost" (TransientError); our own
 * bugs pass through untouched, so they are never retried as network errors.
 */

import { connectionLost } from "../http/body.ts";
import { IncompleteFileError } from "./ndjson_check.ts";

/**
 * A source of byte chunks. A chunk is valid only until the next `read()`: a consumer copies what
 * it keeps (the buffer behind it is reused).
 */
export interface ChunkSource {
  /** The next chunk, or null at the end. */
  read(): Promise<Uint8Array | null>;
  /** Stops reading (frees the connection). */
  cancel(reason?: unknown): Promise<void>;
}

/** Size of the buffer a download reads into (reused: no garbage per chunk). */
export const READ_BUFFER = 256 * 1024;

/**
 * The response body as a source, read into one reused buffer where the body allows it (BYOB).
 * `progress` is called whenever bytes arrive (it feeds the idle watchdog).
 */
export function networkSource(
  body: ReadableStream<Uint8Array>,
  progress: () => void,
  describe: string,
): ChunkSource {
  let byob: ReadableStreamBYOBReader | undefined;
  let plain: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let buffer: ArrayBuffer = new ArrayBuffer(READ_BUFFER);
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    plain = body.getReader();
  }
  return {
    async read() {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = byob ? await byob.read(new Uint8Array(buffer)) : await plain!.read();
      } catch (err) {
        throw connectionLost(describe, err);
      }
      progress();
      if (next.done) return null;
      // The read transferred the buffer into the chunk: read into it again next time.
      if (byob) buffer = next.value.buffer as ArrayBuffer;
      return next.value;
    },
    async cancel(reason) {
      await (byob ?? plain)!.cancel(reason).catch(() => {});
    },
  };
}

/** A source over a list of chunks, then another source. */
function prepend(first: Uint8Array, rest: ChunkSource): ChunkSource {
  let head: Uint8Array | undefined = first;
  return {
    read() {
      if (head) {
        const out = head;
        head = undefined;
        return Promise.resolve(out);
      }
      return rest.read();
    },
    cancel: (reason) => rest.cancel(reason),
  };
}

/**
 * Decompresses a source whose bytes are gzip without saying so (storage that serves `.gz`
 * objects as they are, a Binary holding gzip). Looks at the first two bytes, however the body is
 * split into reads, and passes other sources through.
 */
export async function gunzipIfNeeded(source: ChunkSource, what: string): Promise<ChunkSource> {
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size < 2) {
    const chunk = await source.read();
    if (!chunk) break;
    parts.push(chunk.slice());
    size += chunk.length;
  }
  if (size === 0) return prepend(new Uint8Array(0), source);
  const head = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    head.set(p, at);
    at += p.length;
  }
  const rest = prepend(head, source);
  if (!(head[0] === 0x1f && head[1] === 0x8b)) return rest;
  return gunzip(rest, what);
}

function gunzip(source: ChunkSource, what: string): ChunkSource {
  const inflate = new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>;
  const writer = inflate.writable.getWriter();
  const reader = inflate.readable.getReader();
  // Feeds the compressed bytes in the background, copying each chunk (the source reuses it).
  // A failure of the source (the connection) is kept and re-thrown by read(); a failure of the
  // decompressor shows up in the reader.
  let fed: unknown;
  (async () => {
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await source.read();
      } catch (err) {
        fed = err;
        await reader.cancel(err).catch(() => {});
        return;
      }
      if (!chunk) break;
      await writer.write(chunk.slice());
    }
    await writer.close();
  })().catch(() => {});
  return {
    async read() {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        if (fed) throw fed;
        throw new IncompleteFileError(
          what,
          `is not valid gzip (${err instanceof Error ? err.message : String(err)})`,
        );
      }
      if (fed) throw fed;
      return next.done ? null : next.value;
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => {});
      await source.cancel(reason);
    },
  };
}
