/**
 * Runs the fake FHIR server as its own process, for the demo and the benchmark:
 *
 *     deno run -A tests/fake_server/cli.ts [--options-json '<FakeServerOptions JSON>']
 *       [--idle-exit SECONDS] [--ignore-stdin]
 *
 * Prints one line of JSON (`{"baseUrl", "origin", "secondOrigin", "tokenUrl"}`) to stdout, then
 * serves until stdin reaches end of file (the parent closed its pipe or died), SIGINT/SIGTERM,
 * or `--idle-exit` seconds (default 900) without a request, so it cannot outlive its parent for
 * long. `--ignore-stdin` stops watching stdin (for running it by hand in the background).
 *
 * @module
 */

import { FakeFhirServer } from "./mod.ts";
import type { FakeServerOptions } from "./types.ts";

function usage(message: string): never {
  console.error(`error: ${message}`);
  console.error(
    "usage: cli.ts [--options-json JSON] [--idle-exit SECONDS] [--ignore-stdin]",
  );
  Deno.exit(2);
}

function parseArgs(args: string[]): {
  options: FakeServerOptions;
  idleSeconds: number;
  watchStdin: boolean;
} {
  let options: FakeServerOptions = {};
  let idleSeconds = 900;
  let watchStdin = true;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.includes("=")
      ? arg.split(/=(.*)/s) as [string, string]
      : [arg, undefined];
    const value = () => inline ?? args[++i] ?? usage(`${flag} needs a value`);
    if (flag === "--options-json") {
      try {
        options = JSON.parse(value());
      } catch (err) {
        usage(`--options-json is not valid JSON: ${err instanceof Error ? err.message : err}`);
      }
    } else if (flag === "--idle-exit") {
      idleSeconds = Number(value());
      if (!(idleSeconds > 0)) usage("--idle-exit must be a positive number of seconds");
    } else if (flag === "--ignore-stdin") {
      watchStdin = false;
    } else {
      usage(`unknown argument "${arg}"`);
    }
  }
  return { options, idleSeconds, watchStdin };
}

async function main(): Promise<void> {
  const { options, idleSeconds, watchStdin } = parseArgs(Deno.args);
  const server = await FakeFhirServer.start(options);
  const { baseUrl, origin, secondOrigin, tokenUrl } = server;
  console.log(JSON.stringify({ baseUrl, origin, secondOrigin, tokenUrl }));

  const reason = await new Promise<string>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve(signal));
    }
    if (watchStdin) {
      (async () => {
        try {
          for await (const _ of Deno.stdin.readable) { /* only waiting for end of file */ }
        } catch { /* a broken stdin counts as closed */ }
        resolve("stdin closed");
      })();
    }
    let seen = 0;
    let lastActivity = Date.now();
    setInterval(() => {
      if (server.requestCount() !== seen) {
        seen = server.requestCount();
        lastActivity = Date.now();
      } else if (Date.now() - lastActivity > idleSeconds * 1000) {
        resolve(`idle for ${idleSeconds} s`);
      }
    }, Math.min(1000, idleSeconds * 1000));
  });
  console.error(`fake FHIR server stopping: ${reason}`);
  await server.close();
  Deno.exit(0);
}

if (import.meta.main) await main();
