/**
 * Replayable randomness for tests that pick random moments (kill times): a seeded PRNG whose seed
 * comes from SMART_FETCH_TEST_SEED when set, else is drawn at random and reported on failure.
 */

import { Random } from "../fake_server/prng.ts";

/** The environment variable that fixes the seed, to replay a failed run. */
export const SEED_ENV = "SMART_FETCH_TEST_SEED";

/** A seeded random source and how to replay it. */
export interface TestRandom {
  /** The seed in use (a 32-bit unsigned integer). */
  seed: number;
  /** `SMART_FETCH_TEST_SEED=<seed>`: put it in front of the test command to replay. */
  replay: string;
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
}

/** The seed from SMART_FETCH_TEST_SEED (must be a whole number), else a random one. */
export function testSeed(): number {
  const fixed = Deno.env.get(SEED_ENV);
  if (fixed === undefined || fixed.trim() === "") {
    return Math.floor(Math.random() * 2 ** 32) >>> 0;
  }
  const seed = Number(fixed);
  if (!Number.isInteger(seed)) {
    throw new Error(`${SEED_ENV}="${fixed}" is not a whole number`);
  }
  return seed >>> 0;
}

/** A mulberry32 stream (tests/fake_server/prng.ts) seeded by {@linkcode testSeed}. */
export function testRandom(seed: number = testSeed()): TestRandom {
  const random = new Random(seed);
  return { seed, replay: `${SEED_ENV}=${seed}`, int: (min, max) => random.int(min, max) };
}

/**
 * Runs `body`; if it throws, the error's message starts with the replay hint, so every failed
 * assertion of a random test says how to run it again with the same choices.
 */
export async function withReplayHint<T>(rng: TestRandom, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof Error) {
      err.message = `[replay: ${rng.replay}] ${err.message}`;
      throw err;
    }
    throw new Error(`[replay: ${rng.replay}] ${String(err)}`);
  }
}
