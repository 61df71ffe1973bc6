/** The standalone server process: one JSON line on stdout, exits when stdin closes. */

import assert from "node:assert/strict";

Deno.test("cli.ts prints its URLs, serves, and exits when stdin reaches end of file", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-lock",
      new URL("./cli.ts", import.meta.url).pathname,
      "--options-json",
      JSON.stringify({ patients: 3, software: { name: "Epic" } }),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { done, value } = await lines.read();
    if (done) break;
    first += value;
  }
  const urls = JSON.parse(first);
  assert.deepEqual(Object.keys(urls), ["baseUrl", "origin", "secondOrigin", "tokenUrl"]);
  const metadata = await (await fetch(`${urls.baseUrl}/metadata`)).json();
  assert.equal(metadata.software.name, "Epic");
  const bundle = await (await fetch(`${urls.baseUrl}/Patient`)).json();
  assert.equal(bundle.total, 3);

  await child.stdin.close();
  const status = await child.status;
  assert.equal(status.code, 0);
  const rest = await lines.read();
  assert.ok(rest.done, "nothing else on stdout");
  const stderr = await new Response(child.stderr).text();
  assert.match(stderr, /stdin closed/);
});
