/**
 * Duplicate ids across a type's files, in about 8 bytes per id: each file's ids come as sorted
 * 53-bit hashes; a k-way merge finds the hashes that repeat without copying them into one array;
 * a second pass over the files then collects only the ids behind those hashes, and compares
 * them exactly (a repeat may also be two ids sharing a hash, about once in 10^9 pairs).
 */

/** The hashes that occur more than once across `sorted` (each array sorted ascending). */
export function repeatedHashes(sorted: readonly Float64Array[]): number[] {
  const arrays = sorted.filter((a) => a.length > 0);
  const at = new Uint32Array(arrays.length);
  // A binary min-heap of array indices, by each array's current value.
  const heap = arrays.map((_, k) => k);
  const value = (k: number) => arrays[k]![at[k]!]!;
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < heap.length && value(heap[l]!) < value(heap[m]!)) m = l;
      if (r < heap.length && value(heap[r]!) < value(heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  const out: number[] = [];
  let previous = NaN;
  while (heap.length) {
    const k = heap[0]!;
    const v = value(k);
    if (v === previous && out.at(-1) !== v) out.push(v);
    previous = v;
    if (++at[k]! < arrays[k]!.length) down(0);
    else {
      heap[0] = heap.at(-1)!;
      heap.pop();
      if (heap.length) down(0);
    }
  }
  return out;
}

/** Where an id was seen. */
export interface Sighting {
  file: string;
  line: number;
  id: string;
}

/**
 * The sightings of an id seen before, each with the first sighting of that id. `sightings` must
 * be in reading order (files in the ETL's order, lines ascending).
 */
export function laterSightings(sightings: readonly Sighting[]): [Sighting, Sighting][] {
  const first = new Map<string, Sighting>();
  const out: [Sighting, Sighting][] = [];
  for (const s of sightings) {
    const earlier = first.get(s.id);
    if (earlier) out.push([s, earlier]);
    else first.set(s.id, s);
  }
  return out;
}
