/**
 * Reads one data file the way Cumulus ETL does: gunzipped when (and only when) its name ends in
 * `.gz`, every gzip member, and fails the way it would: a cut or corrupt stream, bytes after
 * the last member, a `.gz` name holding plain text, or gzip bytes under a plain name. Pull-based
 * and flat in memory: each decompressed chunk is handed to `onChunk` (synchronously, and only
 * lent: the next one may reuse its memory) before the next bytes are read.
 */

import { constants, createGunzip, type Gunzip } from "node:zlib";
import { errorMessage } from "../errors.ts";

/** Why a file's bytes cannot be read as the ETL reads them. */
export interface ReadFault {
  code:
    | "truncated-gzip"
    | "corrupt-gzip"
    | "gzip-trailing-data"
    | "not-gzip"
    | "unexpected-gzip"
    | "unreadable";
  message: string;
}

/** What {@linkcode readData} read. */
export interface ReadResult {
  /** Bytes on disk read, and bytes of NDJSON they gave. */
  bytesIn: number;
  bytesOut: number;
  fault?: ReadFault;
}

/** Compressed bytes read at a time. */
const READ_SIZE = 1 << 20;
/** Decompressed bytes per chunk: large chunks keep zlib's per-call cost low (measured). */
const INFLATE_CHUNK = 256 << 10;

function isGzipMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** What reading a `.gz` file that starts with plain bytes gives. */
function notGzip(bytesIn: number): ReadResult {
  const message = "not gzip data, though the name ends in .gz: the ETL cannot read it";
  return { bytesIn, bytesOut: 0, fault: { code: "not-gzip", message } };
}

/** Options of {@linkcode readData}. */
export interface ReadOptions {
  /** The file is gzip (its name ends in `.gz`). */
  gzip: boolean;
  /** Gunzip through node:zlib's stream API even where its faster internals exist. @default false */
  streams?: boolean;
}

/** Reads `path`, gunzipped if `options.gzip`, passing the NDJSON bytes to `onChunk`. */
export async function readData(
  path: string,
  options: ReadOptions,
  onChunk: (chunk: Uint8Array) => void,
): Promise<ReadResult> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    return { bytesIn: 0, bytesOut: 0, fault: { code: "unreadable", message: errorMessage(err) } };
  }
  try {
    if (!options.gzip) return await readPlain(file, onChunk);
    return await gunzipFile(file, onChunk, options.streams ?? false);
  } finally {
    file.close();
  }
}

async function readPlain(file: Deno.FsFile, onChunk: (c: Uint8Array) => void): Promise<ReadResult> {
  const buf = new Uint8Array(READ_SIZE);
  let bytesIn = 0;
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    if (bytesIn === 0 && isGzipMagic(buf.subarray(0, n))) {
      const message = "gzip data in a file whose name does not end in .gz: the ETL reads it as " +
        "text and gets nothing from it";
      return { bytesIn: n, bytesOut: 0, fault: { code: "unexpected-gzip", message } };
    }
    bytesIn += n;
    onChunk(buf.subarray(0, n));
  }
  return { bytesIn, bytesOut: bytesIn };
}

/**
 * The internals of node:zlib's streams that its own sync functions use (Node's
 * `processChunkSync`): inflating into one reused output buffer. Deno implements them, and this
 * halves the memory of a big check (the stream API allocates a fresh buffer for every chunk
 * of output, which lingers until the next GC) and is a little faster. Where they are missing,
 * the stream API is used instead.
 */
interface ZlibHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    out: Uint8Array,
    outOff: number,
    outLen: number,
  ): void;
  onerror: (message: string, errno: number) => void;
}

function handleOf(z: unknown): { handle: ZlibHandle; state: Uint32Array } | undefined {
  const inner = z as { _handle?: Partial<ZlibHandle>; _writeState?: unknown };
  const handle = inner._handle;
  if (typeof handle?.writeSync !== "function" || !(inner._writeState instanceof Uint32Array)) {
    return undefined;
  }
  return { handle: handle as ZlibHandle, state: inner._writeState };
}

async function gunzipFile(
  file: Deno.FsFile,
  onChunk: (c: Uint8Array) => void,
  streams: boolean,
): Promise<ReadResult> {
  const size = (await file.stat()).size;
  // An empty file is an empty gzip stream to Python's gzip (no rows, no error), so to us too.
  if (size === 0) return { bytesIn: 0, bytesOut: 0 };
  const z = createGunzip({ chunkSize: INFLATE_CHUNK });
  const direct = streams ? undefined : handleOf(z);
  if (!direct) return await gunzipStream(z, file, size, onChunk);
  z.on("error", () => {}); // Reported through the handle's own callback below.
  let failure: string | undefined;
  direct.handle.onerror = (message) => (failure ??= message);
  const { handle, state } = direct;
  const out = new Uint8Array(INFLATE_CHUNK);
  const buf = new Uint8Array(READ_SIZE);
  let bytesIn = 0, bytesOut = 0, consumed = 0;
  let ended = false;
  /** Inflates `input` (empty with Z_FINISH), handing out every full or last output buffer. */
  const inflate = (input: Uint8Array, flush: number) => {
    let inOff = 0;
    let left = input.length;
    for (;;) {
      handle.writeSync(flush, input, inOff, left, out, 0, out.length);
      if (failure !== undefined) return;
      const [outLeft, inLeft] = [state[0]!, state[1]!];
      const have = out.length - outLeft;
      consumed += left - inLeft;
      inOff += left - inLeft;
      left = inLeft;
      bytesOut += have;
      if (have) onChunk(out.subarray(0, have));
      if (outLeft === 0) continue; // The output buffer was full: there may be more.
      // Room was left: all input taken, or the stream ended (zero padding, or garbage after it).
      ended = left > 0 || flush === constants.Z_FINISH;
      return;
    }
  };
  try {
    for (;;) {
      const n = await file.read(buf);
      if (n === null) break;
      if (bytesIn === 0 && !isGzipMagic(buf.subarray(0, n))) return notGzip(n);
      bytesIn += n;
      inflate(buf.subarray(0, n), constants.Z_NO_FLUSH);
      if (failure !== undefined || ended) break;
    }
    if (failure === undefined && !ended) inflate(new Uint8Array(0), constants.Z_FINISH);
  } finally {
    z.close();
  }
  if (failure !== undefined) return { bytesIn, bytesOut, fault: gzipFault(failure, bytesOut) };
  return await trailing(file, consumed, size, { bytesIn, bytesOut });
}

/** The same with node:zlib's stream API, where its internals are not there. */
async function gunzipStream(
  z: Gunzip,
  file: Deno.FsFile,
  size: number,
  onChunk: (c: Uint8Array) => void,
): Promise<ReadResult> {
  let failure: unknown;
  let bug: unknown;
  let bytesOut = 0;
  z.on("data", (chunk: Uint8Array) => {
    bytesOut += chunk.length;
    try {
      // A plain view: zlib's Buffers would make the scanner's hot code see two array kinds.
      if (bug === undefined) onChunk(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    } catch (err) {
      bug = err;
    }
  });
  const failed = new Promise<void>((resolve) =>
    z.on("error", (err: unknown) => {
      failure ??= err;
      resolve();
    })
  );
  const ended = new Promise<void>((resolve) => z.once("end", () => resolve()));
  const buf = new Uint8Array(READ_SIZE);
  let bytesIn = 0;
  try {
    for (;;) {
      const n = await file.read(buf);
      if (n === null) break;
      if (bytesIn === 0 && !isGzipMagic(buf.subarray(0, n))) return notGzip(n);
      bytesIn += n;
      // The buffer is reused once zlib has taken these bytes (the callback says so).
      const taken = new Promise<void>((resolve) => z.write(buf.subarray(0, n), () => resolve()));
      await Promise.race([taken, failed]);
      if (failure !== undefined || bug !== undefined) break;
    }
    if (failure === undefined && bug === undefined) {
      z.end();
      await Promise.race([ended, failed]);
    }
  } finally {
    z.destroy();
  }
  if (bug !== undefined) throw bug;
  if (failure !== undefined) {
    return { bytesIn, bytesOut, fault: gzipFault(errorMessage(failure), bytesOut) };
  }
  return await trailing(file, z.bytesWritten, size, { bytesIn, bytesOut });
}

/**
 * zlib stops quietly at the first byte it cannot take after a member: zero padding (which
 * Python's gzip allows) or anything else (which it does not).
 */
async function trailing(
  file: Deno.FsFile,
  consumed: number,
  size: number,
  result: ReadResult,
): Promise<ReadResult> {
  if (consumed >= size || await onlyZeros(file, consumed)) return result;
  const message = `${size - consumed} bytes after the end of the gzip data`;
  return { ...result, fault: { code: "gzip-trailing-data", message } };
}

/** zlib's error, in words a person can act on. */
function gzipFault(text: string, bytesOut: number): ReadFault {
  const after = `after ${bytesOut.toLocaleString("en-US")} bytes of NDJSON`;
  if (/unexpected end of file/i.test(text)) {
    return { code: "truncated-gzip", message: `gzip data cut short ${after} (truncated file?)` };
  }
  // A bad header after a whole member (the first header was checked): something follows it.
  if (/header check|unknown compression method|header flags/i.test(text)) {
    return {
      code: "gzip-trailing-data",
      message: `data after the end of a gzip member, ${after}: the ETL fails there`,
    };
  }
  return { code: "corrupt-gzip", message: `corrupt gzip data ${after} (${text})` };
}

/** True when every byte of `file` from `offset` on is zero. */
async function onlyZeros(file: Deno.FsFile, offset: number): Promise<boolean> {
  await file.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(64 << 10);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) return true;
    for (let i = 0; i < n; i++) if (buf[i] !== 0) return false;
  }
}
