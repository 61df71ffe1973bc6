/** Small things a person notices first: help, closed pipes, and one-line errors that say what to do. */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { MAIN, runCli } from "./helpers/cli.ts";
import { tempDir } from "./helpers/folder.ts";

Deno.test("the top-level help is wrapped and ends with three examples", async () => {
  const r = await runCli(["--help"], { clock: new FakeClock() });
  assert.equal(r.code, 0);
  for (const line of r.stdout.split("\n")) assert.ok(line.length <= 80, `too wide: ${line}`);
  const examples = r.stdout.slice(r.stdout.indexOf("Examples:"));
  const commands = [...examples.matchAll(/^\s+\$ smart-fetch (\w+)/gm)].map((m) => m[1]);
  assert.deepEqual(commands, ["export", "export", "status"]);
  assert.match(examples, /--group cohort1/, "a managed Group export");
  assert.match(examples, /--id-file MRN-123/, "an ID-file export");
  assert.equal(
    r.stdout.trimEnd().split("\n").at(-1)!.trim(),
    "$ smart-fetch status /output/root/*",
  );
});

Deno.test("usage lines show the output folder as required", async () => {
  for (const command of ["export", "bulk", "reset-symlinks"]) {
    const r = await runCli([command, "--help"], { clock: new FakeClock() });
    assert.match(
      r.stdout,
      new RegExp(`^Usage: smart-fetch ${command} \\[options\\] <output-dir>$`, "m"),
    );
  }
  const top = await runCli(["--help"], { clock: new FakeClock() });
  assert.match(top.stdout, /^ {2}bulk \[options\] <output-dir> /m);
  // Still runs without one where none is needed.
  assert.equal((await runCli(["bulk", "--type", "help"], { clock: new FakeClock() })).code, 0);
});

Deno.test("`smart-fetch help | head` exits quietly when the reader closes the pipe", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "help"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Like `head -0`: the reader goes away before the program writes.
  await child.stdout.cancel();
  const status = await child.status;
  const stderr = new TextDecoder().decode(
    new Uint8Array(await new Response(child.stderr).arrayBuffer()),
  );
  assert.equal(stderr, "", "no 'Broken pipe' error");
  assert.equal(status.code, 0);
});

Deno.test("reset-symlinks on a missing path says it does not exist", async () => {
  await using out = await tempDir();
  const missing = join(out.path, "nope");
  const r = await runCli(["reset-symlinks", missing], { clock: new FakeClock() });
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `error: Folder '${missing}' does not exist.\n`);
});

Deno.test("an unterminated TOML string reads as such", async () => {
  await using out = await tempDir();
  const file = join(out.path, "bad.toml");
  await Deno.writeTextFile(file, `fhir-url = "https://ehr.example.org/fhir\ntype = "Patient"\n`);
  const r = await runCli(["bulk", "-c", file, join(out.path, "x")], { clock: new FakeClock() });
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    `error: Config file "${file}" is not valid TOML: line 1, column 41: unterminated string (no closing quote before the end of the line).\n`,
  );
});
