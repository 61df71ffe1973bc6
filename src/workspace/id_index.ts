/**
 * A compact set of resource ids for comparing exports with millions of resources: 53-bit hashes
 * in a sorted Float64Array (8 bytes per id instead of ~60 for a Set of strings).
 */

/** A 53-bit hash of a string from two 32-bit multiplicative hashes (exact in a float64). */
export function hashId(id: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return (h1 >>> 0) * 2 ** 21 + ((h2 >>> 0) >>> 11);
}

/** Ids collected, then sorted once, then looked up by binary search. */
export class IdIndex {
  #hashes = new Float64Array(1024);
  #size = 0;
  #sorted = true;

  /** Adds an id. */
  add(id: string): void {
    if (this.#size === this.#hashes.length) {
      const bigger = new Float64Array(this.#hashes.length * 2);
      bigger.set(this.#hashes);
      this.#hashes = bigger;
    }
    this.#hashes[this.#size++] = hashId(id);
    this.#sorted = false;
  }

  /** Adds every id of an iterable. */
  async addAll(ids: AsyncIterable<string>): Promise<this> {
    for await (const id of ids) this.add(id);
    return this;
  }

  /** Number of ids added (duplicates counted). */
  get size(): number {
    return this.#size;
  }

  /** The hashes added more than once (true duplicates, or, very rarely, two ids colliding). */
  repeatedHashes(): Set<number> {
    if (!this.#sorted) {
      this.#hashes = this.#hashes.subarray(0, this.#size).sort();
      this.#sorted = true;
    }
    const out = new Set<number>();
    for (let i = 1; i < this.#size; i++) {
      if (this.#hashes[i] === this.#hashes[i - 1]) out.add(this.#hashes[i]!);
    }
    return out;
  }

  /** True when the id was added (a false yes needs a hash collision: about 1 in 10^9 per lookup among 10 million ids). */
  has(id: string): boolean {
    if (!this.#sorted) {
      this.#hashes = this.#hashes.subarray(0, this.#size).sort();
      this.#sorted = true;
    }
    const h = hashId(id);
    let lo = 0;
    let hi = this.#size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.#hashes[mid]!;
      if (v === h) return true;
      if (v < h) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }
}
