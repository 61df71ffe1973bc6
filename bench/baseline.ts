/**
 * The benchmark's baseline: read the same bytes from the server and gzip them to disk, with the
 * same concurrency, and no FHIR processing at all (no counting, no checks, no metadata, no log).
 * Usage: deno run -A bench/baseline.ts URLS_JSON OUT_DIR CONCURRENCY
 * Prints one JSON line: {"ms": download time, "bytes": NDJSON bytes read}.
 */

const [urlsPath, outDir, concurrencyText] = Deno.args;
const urls: string[] = JSON.parse(await Deno.readTextFile(urlsPath!));
const concurrency = Number(concurrencyText ?? 5);
await Deno.mkdir(outDir!, { recursive: true });

let bytes = 0;
let next = 0;
const started = performance.now();
async function worker() {
  while (next < urls.length) {
    const i = next++;
    const res = await fetch(urls[i]!);
    const file = await Deno.open(`${outDir}/${i}.ndjson.gz`, {
      write: true,
      create: true,
      truncate: true,
    });
    const counted = res.body!.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          bytes += chunk.length;
          controller.enqueue(chunk);
        },
      }),
    );
    await counted.pipeThrough(
      new CompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>,
    ).pipeTo(file.writable);
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
console.log(JSON.stringify({ ms: performance.now() - started, bytes }));
