/** Runs a benchmark's subject as its own process and samples its peak memory. */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { shippedV8Flags } from "./v8_flags.ts";

/** The repository's root folder. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** What one measured run gave. */
export interface Measured {
  ms: number;
  /** Peak resident memory (VmHWM: workers included, they are threads). */
  peakRssMb: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** `deno` arguments that run smart-fetch from the sources, with the binary's V8 flags. */
export function smartFetchArgs(...args: string[]): string[] {
  return ["run", "-A", ...shippedV8Flags(), join(ROOT, "main.ts"), ...args];
}

/** Runs `deno args...` in `cwd`, sampling its peak RSS until it exits. */
export async function measure(args: string[], cwd = ROOT): Promise<Measured> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let peakKb = 0;
  const sampler = setInterval(() => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      // Exited.
    }
  }, 20);
  const out = await child.output();
  clearInterval(sampler);
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    ms: performance.now() - started,
    peakRssMb: peakKb / 1024,
    code: out.code,
    stdout: decode(out.stdout),
    stderr: decode(out.stderr),
  };
}
