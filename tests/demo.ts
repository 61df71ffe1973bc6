/**
 * `deno task demo`: the first run for a new user with no EHR at hand. Starts the test FHIR server
 * (SMART Backend Services auth, synthetic patients), exports two patient Groups into managed
 * folders under ./demo-output the way a hospital's shell loop does, shows what was written, and
 * ends with `smart-fetch status` and `smart-fetch verify`.
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
const ctx = defaultContext();
const auth = [
  "--smart-client-id",
  "demo-client",
  "--smart-key",
  new URL("rs384.private.jwks.json", keys).pathname,
];

console.log(
  `Test FHIR server at ${server.baseUrl} (100 synthetic patients, SMART Backend Services auth).\n`,
);
for (const group of ["even", "odd"]) {
  const argv = [
    "export",
    "--fhir-url",
    server.baseUrl,
    ...auth,
    "--group",
    group,
    "--nickname",
    "initial",
    join(OUT, group),
  ];
  console.log(`$ smart-fetch ${argv.join(" ")}`);
  const code = await main(argv, ctx);
  if (code !== 0) {
    console.error(`The demo export failed (exit code ${code}).`);
    Deno.exit(code);
  }
  console.log("");
}

const folder = join(OUT, "even", "001.initial");
console.log(`What one export wrote, in ./${folder}:`);
const names: string[] = [];
for await (const e of Deno.readDir(folder)) if (e.isFile) names.push(e.name);
for (const name of names.sort()) {
  const path = join(folder, name);
  let rows = "";
  if (/\.ndjson(\.gz)?$/.test(name)) {
    let n = 0;
    for await (const _ of readLines(path)) n++;
    rows = `${n} ${name === "log.ndjson" ? "log rows" : "resources"}`;
  }
  console.log(
    `  ${name.padEnd(36)} ${formatBytes((await Deno.stat(path)).size).padStart(9)}  ${rows}`,
  );
}
console.log(
  `  (and top-level links in ./${
    join(OUT, "even")
  }, such as Patient.001.ndjson.gz -> 001.initial/...)\n`,
);

console.log(`$ smart-fetch status ${OUT}/even ${OUT}/odd ${OUT}/next-group`);
await main(["status", join(OUT, "even"), join(OUT, "odd"), join(OUT, "next-group")], ctx);
console.log(`\n$ smart-fetch verify ${OUT}/even ${OUT}/odd`);
const verified = await main(["verify", join(OUT, "even"), join(OUT, "odd")], ctx);
if (verified !== 0) {
  console.error(`The demo's folders did not verify (exit code ${verified}).`);
  Deno.exit(verified);
}
console.log(`
Rerunning an export resumes it after any interruption, and does nothing once it is complete.
Point Cumulus ETL at one subfolder, such as ./${folder}, or look inside a file:
  zcat ${folder}/Patient.001.ndjson.gz | head -1`);
