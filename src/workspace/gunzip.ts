/**
 * Gunzip that reads every member of a multi-member gzip file. Files made by appending (SMART
 * Fetch's appends, our crawl's per-batch members) hold several members; the web
 * DecompressionStream stops with an error after the first, so it cannot read them. Pull-based:
 * the next compressed chunk is fed only once the output of the last one was taken, so memory
 * stays flat however fast the file is read and however slowly it is consumed.
 */

import { createGunzip } from "node:zlib";

/** The decompressed bytes of every gzip member of `input`. */
export function gunzipAll(input: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const z = createGunzip();
  const reader = input.getReader();
  const queue: Uint8Array[] = [];
  let failure: unknown;
  let ended = false;
  z.on("data", (d: Uint8Array) => queue.push(new Uint8Array(d)));
  z.on("error", (err: unknown) => (failure ??= err));
  const endOfInput = new Promise<void>((resolve) => z.once("end", () => resolve()));
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (queue.length === 0 && !ended && !failure) {
        const { done, value } = await reader.read();
        if (done) {
          z.end();
          await Promise.race([endOfInput, new Promise((r) => z.once("error", r))]);
          ended = true;
          break;
        }
        await new Promise<void>((resolve) => z.write(value, () => resolve()));
      }
      if (failure) return controller.error(failure);
      const next = queue.shift();
      if (next) controller.enqueue(next);
      else if (ended) controller.close();
    },
    async cancel(reason) {
      z.destroy();
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}
