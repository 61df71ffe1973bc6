/**
 * `deno task demo`: the first run for a new user with no EHR at hand. Starts the test FHIR server
 * (SMART Backend Services auth, synthetic patients), runs a real export into ./demo-output, and
 * shows what was written.
 */

import { join } from "node:path";
import { defaultContext, main } from "../main.ts";
import { formatBytes } from "../src/log/time_format.ts";
import { readLines } from "../src/workspace/ndjson_reader.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";

const OUT = "demo-output";
const keys = new URL("../testdata/keys/", import.meta.url);
const publicJwks = JSON.parse(await Deno.readTextFile(new URL("rs384.public.jwks.json", keys)));

await Deno.remove(OUT, { recursive: true }).catch(() => {});
await using server = await FakeFhirServer.start({
  patients: 100,
  auth: { mode: "smart", clients: [{ clientId: "demo-client", jwks: publicJwks }] },
  resourcesPerFile: 500,
  pollsUntilReady: 3,
  progressRetryAfter: "1",
});

const argv = [
  "bulk",
  "--fhir-url",
  server.baseUrl,
  "--smart-client-id",
  "demo-client",
  "--smart-key",
  new URL("rs384.private.jwks.json", keys).pathname,
  OUT,
];
console.log(
  `Test FHIR server at ${server.baseUrl} (100 synthetic patients, SMART Backend Services auth).`,
);
console.log(`Running: smart-fetch ${argv.join(" ")}\n`);
const code = await main(argv, defaultContext());
if (code !== 0) {
  console.error(`The demo export failed (exit code ${code}).`);
  Deno.exit(code);
}

console.log(`\nWhat was written to ./${OUT}:`);
const names: string[] = [];
for await (const e of Deno.readDir(OUT)) names.push(e.name);
for (const sub of ["error", "deleted"]) {
  try {
    for await (const e of Deno.readDir(join(OUT, sub))) names.push(`${sub}/${e.name}`);
  } catch {
    // Not there.
  }
}
for (const name of names.sort()) {
  const path = join(OUT, name);
  const info = await Deno.stat(path);
  if (info.isDirectory) continue;
  let rows = "";
  if (/\.ndjson(\.gz)?$/.test(name)) {
    let n = 0;
    for await (const _ of readLines(path)) n++;
    rows = `${n} ${name === "log.ndjson" ? "log rows" : "resources"}`;
  }
  console.log(`  ${name.padEnd(40)} ${formatBytes(info.size).padStart(9)}  ${rows}`);
}
console.log(`
Against a real server, rerunning the same command resumes an interrupted export, and does
nothing when it is complete. Point Cumulus ETL at ./${OUT}, or look inside a file:
  zcat ${OUT}/Patient.001.ndjson.gz | head -1`);
