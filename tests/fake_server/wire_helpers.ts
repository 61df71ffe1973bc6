/**
 * Reading responses piece by piece for the fake server's own tests: the raw bytes on the wire
 * (chunk sizes, the terminating chunk), which fetch hides, and the chunks a fetch reader yields.
 *
 * @module
 */

/** One response as it came off the socket. */
export interface WireResponse {
  status: number;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** Sizes of the HTTP chunks in order (empty without chunked encoding; no final 0). */
  chunkSizes: number[];
  /** Whether a chunked body ended with its zero-size last chunk. */
  terminated: boolean;
  /** The body with the chunk framing removed (still gzip when Content-Encoding says so). */
  body: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function indexOfCrlf(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 1 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  }
  return -1;
}

/** GETs a URL over a fresh connection (`connection: close`) and parses the raw response. */
export async function rawGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<WireResponse> {
  const target = new URL(url);
  const conn = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
  let request = `GET ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\n` +
    "connection: close\r\n";
  for (const [name, value] of Object.entries(headers)) request += `${name}: ${value}\r\n`;
  await conn.write(encoder.encode(request + "\r\n"));
  const raw = new Uint8Array(await new Response(conn.readable).arrayBuffer());

  let end = -1;
  for (let i = 0; i + 3 < raw.length; i++) {
    if (raw[i] === 13 && raw[i + 1] === 10 && raw[i + 2] === 13 && raw[i + 3] === 10) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error("no complete response head");
  const [statusLine, ...lines] = decoder.decode(raw.subarray(0, end)).split("\r\n");
  const parsed: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = raw.subarray(end + 4);
  const response: WireResponse = {
    status: Number(statusLine!.split(" ")[1]),
    headers: parsed,
    chunkSizes: [],
    terminated: false,
    body: rest,
  };
  if (parsed["transfer-encoding"] !== "chunked") return response;
  const parts: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    const eol = indexOfCrlf(rest, at);
    if (eol < 0) break;
    const size = parseInt(decoder.decode(rest.subarray(at, eol)), 16);
    if (size === 0) {
      response.terminated = true;
      break;
    }
    const data = rest.subarray(eol + 2, eol + 2 + size);
    parts.push(data);
    response.chunkSizes.push(size);
    if (data.length < size) break;
    at = eol + 2 + size + 2;
  }
  response.body = concatBytes(parts);
  return response;
}

/** Joins byte arrays into one. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Reads a fetch body with a reader, returning every chunk (copied) in order. */
export async function readChunks(res: Response): Promise<Uint8Array[]> {
  const reader = res.body!.getReader();
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value.slice());
  }
}
