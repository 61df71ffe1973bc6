/**
 * `--config FILE`: a TOML file sets any flag (defaults < file < environment < command line), is
 * validated like the command line, and fails with one clear line naming the file and the key.
 */

import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { buildProgram } from "../src/cli/program.ts";
import { addCommonOptions, addOutputOptions, addServerOptions } from "../src/cli/options.ts";
import { FakeClock } from "../src/clock.ts";
import { ConfigError } from "../src/errors.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { runCli, runCliProcess } from "./helpers/cli.ts";
import { idsByType, listFiles, readResources, tempDir } from "./helpers/folder.ts";

/** Writes `text` to `dir/name` and returns its path. */
async function writeConfig(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, text);
  return path;
}

/** The query parameters of the (last) bulk kick-off the server saw. */
function kickoffParams(server: FakeFhirServer): URLSearchParams {
  const kick = server.requests.filter((r) => r.kind === "kickoff").at(-1);
  assert.ok(kick, "a kick-off was sent");
  return new URLSearchParams(kick.query);
}

/** Asserts a failed run: exit 2 and one line naming the config file. */
function assertConfigError(
  result: { code: number; stderr: string },
  file: string,
  message: RegExp,
): void {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stderr.trim().split("\n").length, 1, `one line: ${result.stderr}`);
  assert.ok(result.stderr.startsWith("error: "), result.stderr);
  assert.ok(result.stderr.includes(basename(file)), `names the file: ${result.stderr}`);
  assert.match(result.stderr, message);
}

function keyPath(name: string): string {
  return fileURLToPath(new URL(`../testdata/keys/${name}`, import.meta.url));
}

Deno.test("a config file supplies fhir-url, type, type-filter, no-compression and max-connections to bulk", async () => {
  await using server = await FakeFhirServer.start({ patients: 3, resourcesPerFile: 1 });
  // Slow downloads: with one connection they cannot overlap; with the default five they would.
  server.addFault({ target: "file", times: Infinity, fault: { kind: "latency", ms: 100 } });
  await using tmp = await tempDir();
  const dir = join(tmp.path, "out");
  const config = await writeConfig(
    tmp.path,
    "smart-fetch.toml",
    `# shared settings
fhir_url = "${server.baseUrl}"
type = ["Patient", "Observation"]
type-filter = ["Observation?category=laboratory"]
no-compression = true
max-connections = 1
`,
  );
  const result = await runCli(["bulk", "-c", config, dir], { clock: new FakeClock() });
  assert.equal(result.code, 0, result.stderr);

  const params = kickoffParams(server);
  assert.deepEqual(params.get("_type")!.split(",").sort(), ["Observation", "Patient"]);
  assert.deepEqual(params.getAll("_typeFilter"), ["Observation?category=laboratory"]);

  const files = (await listFiles(dir)).filter((f) => /^[A-Z]\w+\.\d{3}\.ndjson/.test(f));
  assert.ok(files.includes("Patient.001.ndjson"), files.join(" "));
  assert.ok(files.every((f) => f.endsWith(".ndjson")), `uncompressed: ${files.join(" ")}`);
  const ids = await idsByType(dir);
  assert.deepEqual([...ids.keys()].sort(), ["Observation", "Patient"]);
  for (const f of files.filter((f) => f.startsWith("Observation."))) {
    for (const obs of await readResources(join(dir, f))) {
      const codes = (obs.category as { coding: { code: string }[] }[]).flatMap((c) =>
        c.coding.map((x) => x.code)
      );
      assert.ok(codes.includes("laboratory"), `${obs.id} is a lab result`);
    }
  }

  // One connection: each download starts only after the previous one (100 ms each) ended.
  const downloads = server.requests.filter((r) => r.kind === "file").map((r) => r.time);
  assert.ok(downloads.length >= 3, `several files: ${downloads.length}`);
  downloads.sort((a, b) => a - b);
  for (let i = 1; i < downloads.length; i++) {
    assert.ok(downloads[i]! - downloads[i - 1]! >= 90, `downloads overlapped: ${downloads}`);
  }
});

Deno.test("the command line wins over the config file, which wins over the defaults", async () => {
  await using server = await FakeFhirServer.start({ patients: 2 });
  await using tmp = await tempDir();
  const config = await writeConfig(
    tmp.path,
    "c.toml",
    `fhir-url = "${server.baseUrl}"
type = "Patient,Condition"
kickoff = "post"
compression = false
`,
  );
  const clock = new FakeClock();

  // The file alone: POST kick-off with both types, plain .ndjson.
  const fromFile = join(tmp.path, "file");
  const r1 = await runCli(["bulk", "-c", config, fromFile], { clock });
  assert.equal(r1.code, 0, r1.stderr);
  const post = server.requests.filter((r) => r.kind === "kickoff").at(-1)!;
  assert.equal(post.method, "POST");
  const body = JSON.parse(post.body!) as { parameter: { name: string; valueString?: string }[] };
  const types = body.parameter.filter((p) => p.name === "_type").map((p) => p.valueString);
  assert.deepEqual(types.join(",").split(",").sort(), ["Condition", "Patient"]);
  assert.deepEqual([...(await idsByType(fromFile)).keys()].sort(), ["Condition", "Patient"]);
  assert.ok((await listFiles(fromFile)).includes("Patient.001.ndjson"));

  // Flags on the command line beat the file.
  const fromCli = join(tmp.path, "cli");
  const r2 = await runCli(
    ["bulk", "-c", config, "--type", "Patient", "--kickoff", "get", fromCli],
    { clock },
  );
  assert.equal(r2.code, 0, r2.stderr);
  const get = server.requests.filter((r) => r.kind === "kickoff").at(-1)!;
  assert.equal(get.method, "GET");
  assert.equal(kickoffParams(server).get("_type"), "Patient");
  assert.deepEqual([...(await idsByType(fromCli)).keys()], ["Patient"]);
});

Deno.test("environment variables win over the config file, which SMART_FETCH_CONFIG can name", async () => {
  await using server = await FakeFhirServer.start({ patients: 2, pollsUntilReady: 0 });
  await using tmp = await tempDir();
  const config = await writeConfig(
    tmp.path,
    "env.toml",
    `fhir-url = "${server.baseUrl}"\ntype = ["Condition"]\nno-compression = true\n`,
  );
  const dir = join(tmp.path, "out");
  const result = await runCliProcess(["bulk", dir], {
    env: { SMART_FETCH_CONFIG: config, SMART_FETCH_TYPE: "Patient" },
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(kickoffParams(server).get("_type"), "Patient");
  assert.deepEqual(await listFiles(dir).then((f) => f.filter((n) => n.endsWith(".ndjson"))), [
    "Patient.001.ndjson",
    "log.ndjson",
  ]);
});

Deno.test("-c works before and after the subcommand", async () => {
  await using server = await FakeFhirServer.start({ patients: 2 });
  await using tmp = await tempDir();
  const config = await writeConfig(
    tmp.path,
    "c.toml",
    `fhir-url = "${server.baseUrl}"\ntype = "Patient"\n`,
  );
  const clock = new FakeClock();
  const before = join(tmp.path, "before");
  const after = join(tmp.path, "after");
  const r1 = await runCli(["-c", config, "bulk", before], { clock });
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = await runCli(["bulk", after, "--config", config], { clock });
  assert.equal(r2.code, 0, r2.stderr);
  for (const dir of [before, after]) {
    assert.deepEqual([...(await idsByType(dir)).keys()], ["Patient"], dir);
  }
  assert.equal(server.requests.filter((r) => r.kind === "kickoff").length, 2);
});

Deno.test("an unknown key is an error that names it and suggests the flag", async () => {
  await using server = await FakeFhirServer.start({ patients: 1 });
  await using tmp = await tempDir();
  const dir = join(tmp.path, "never");
  const config = await writeConfig(
    tmp.path,
    "typo.toml",
    `fhir-url = "${server.baseUrl}"\nmax_conections = 2\n`,
  );
  const r = await runCli(["bulk", "-c", config, dir], { clock: new FakeClock() });
  assertConfigError(r, config, /unknown key "max_conections" \(did you mean "max-connections"\?\)/);
  assert.equal(server.requests.length, 0, "nothing was sent");
  assert.equal(await Deno.stat(dir).then(() => true, () => false), false, "nothing was written");
});

Deno.test("one file serves every command: a later command gets the file's values and ignores other commands' keys", async () => {
  await using tmp = await tempDir();
  const seen: { opts: Record<string, unknown>; sources: Record<string, string | undefined> }[] = [];
  function program(): Command {
    const p = buildProgram({
      context: () => {
        throw new Error("not used");
      },
      setExitCode: () => {},
      writeOut: () => {},
      writeErr: () => {},
    });
    // A subcommand added after buildProgram, with no config code of its own.
    const probe = new Command("probe").exitOverride();
    addServerOptions(probe);
    addOutputOptions(probe);
    addCommonOptions(probe);
    probe.action((_opts, cmd: Command) => {
      const opts = cmd.opts();
      const sources = Object.fromEntries(
        Object.keys(opts).map((k) => [k, cmd.getOptionValueSource(k)]),
      );
      seen.push({ opts, sources });
    });
    return p.addCommand(probe);
  }
  const config = await writeConfig(
    tmp.path,
    "shared.toml",
    `smart-key = "bulk-only.jwks"
verbose = true
compression = false
max-connections = "7"
request-timeout = "5m"
max_retry_wait = 90
`,
  );
  await program().parseAsync(["probe", "-c", config, "--max-connections", "3"], { from: "user" });
  const { opts, sources } = seen[0]!;
  assert.equal(opts.smartKey, undefined, "probe has no --smart-key");
  assert.equal(opts.verbose, true);
  assert.equal(opts.compression, false);
  assert.equal(opts.maxConnections, 3, "the command line wins");
  assert.equal(sources.maxConnections, "cli");
  assert.equal(opts.requestTimeout, 300_000);
  assert.equal(opts.maxRetryWait, 90_000, "a number of seconds");
  assert.equal(sources.requestTimeout, "config");

  // The real `status` command: takes `json` from the file and ignores the export flags.
  const status = await writeConfig(tmp.path, "status.toml", `json = true\nsmart-key = "k.jwks"\n`);
  const empty = join(tmp.path, "not-started");
  await Deno.mkdir(empty);
  const r = await runCli(["status", "-c", status, empty], { clock: new FakeClock() });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotThrow(() => JSON.parse(r.stdout), `JSON output: ${r.stdout}`);

  // A key no command has is still an error, suggesting the flag of another command.
  const typo = await writeConfig(tmp.path, "typo.toml", `smart_kee = "k.jwks"\n`);
  await assert.rejects(
    () => program().parseAsync(["probe", "-c", typo], { from: "user" }),
    (err: unknown) =>
      err instanceof ConfigError && /unknown key "smart_kee" \(did you mean "smart-key"\?\)/.test(
        err.message,
      ),
  );
});

Deno.test("bad values and bad files: exit 2, one line naming the file and the key, nothing written", async () => {
  await using server = await FakeFhirServer.start({ patients: 1 });
  await using tmp = await tempDir();
  const dir = join(tmp.path, "never");
  const url = `fhir-url = "${server.baseUrl}"\n`;
  const cases: [string, RegExp][] = [
    [
      "max-connections = 0",
      /max-connections = 0 is invalid\. Expected a whole number from 1 to 64/,
    ],
    ['max-connections = "0"', /max-connections = "0" is invalid\. Expected a whole number/],
    ['request-timeout = "5 minutes"', /request-timeout = "5 minutes" is invalid.*duration/],
    ['kickoff = "put"', /kickoff = "put" is invalid\. Allowed choices are get, post/],
    ['verbose = "yes"', /verbose = "yes" is invalid\. Expected true or false/],
    ['since = "yesterday"', /since = "yesterday" is invalid\. Expected a date/],
    ['type = ["Patient", true]', /type = \["Patient", true\] is invalid/],
    ['group = ["a", "b"]', /group = \["a", "b"\] is invalid.*cannot be repeated/],
    ['[bulk]\ntype = "Patient"', /"bulk" is a table/],
    ['config = "other.toml"', /"config" cannot be set in a config file/],
    [
      'type = "Patient"\ntype-filter = []\nfhir_url = "x"',
      /"fhir-url" and "fhir_url" set the same/,
    ],
  ];
  const clock = new FakeClock();
  for (const [i, [text, message]] of cases.entries()) {
    const config = await writeConfig(tmp.path, `bad${i}.toml`, url + text + "\n");
    const r = await runCli(["bulk", "-c", config, dir], { clock });
    assertConfigError(r, config, message);
    assert.equal(await Deno.stat(dir).then(() => true, () => false), false, `${text} wrote`);
  }
  const missing = join(tmp.path, "missing.toml");
  const r = await runCli(["bulk", "-c", missing, dir], { clock });
  assertConfigError(r, missing, /Cannot read config file ".*missing\.toml": no such file\./);
  assert.equal(server.requests.length, 0, "nothing was sent");
});

Deno.test("a TOML syntax error names the file and the line", async () => {
  await using tmp = await tempDir();
  const config = await writeConfig(
    tmp.path,
    "broken.toml",
    `fhir-url = "https://ehr.example.org/fhir"\n\ntype = ["Patient", "Condition"\nverbose = true\n`,
  );
  const r = await runCli(["bulk", "-c", config, join(tmp.path, "out")], {
    clock: new FakeClock(),
  });
  assertConfigError(r, config, /is not valid TOML: line 4\b/);
});

Deno.test("a secret's value from the config file never appears in an error", async () => {
  await using tmp = await tempDir();
  const cases = [
    `bearer-token = ["tok-SECRET"]`,
    `basic-passwd = true\nbasic-user = "u"\nbearer-token = { value = "tok-SECRET" }`,
    `smart-client-id = ["id-SECRET"]`,
    `bulk-smart-client-id = ["id-SECRET", "other"]`,
    `smart-key = ['{"kty": "RSA", "d": "key-SECRET"}']`,
    `basic-passwd = "pw-SECRET" oops`,
    `bearer-token = "tok-SECRET`,
    `bearer-token = """tok-SECRET`,
  ];
  for (const [i, text] of cases.entries()) {
    const config = await writeConfig(tmp.path, `s${i}.toml`, `${text}\n`);
    const r = await runCli(["bulk", "-c", config, join(tmp.path, "out")], {
      clock: new FakeClock(),
    });
    assertConfigError(r, config, /./);
    assert.ok(!r.stderr.includes("SECRET"), `${text} showed a secret: ${r.stderr}`);
  }
});

Deno.test("relative key and client-id paths are read from the config file's folder", async () => {
  const publicJwks = JSON.parse(await Deno.readTextFile(keyPath("rs384.public.jwks.json")));
  await using server = await FakeFhirServer.start({
    patients: 2,
    auth: { mode: "smart", clients: [{ clientId: "config-client", jwks: publicJwks }] },
  });
  await using tmp = await tempDir();
  const folder = join(tmp.path, "settings");
  await Deno.mkdir(folder);
  await Deno.copyFile(keyPath("rs384.private.jwks.json"), join(folder, "private.jwks"));
  await Deno.writeTextFile(join(folder, "client-id.txt"), "config-client\n");
  assert.equal(await Deno.stat("private.jwks").then(() => true, () => false), false);
  const clock = new FakeClock();

  const files = await writeConfig(
    folder,
    "smart-fetch.toml",
    `fhir-url = "${server.baseUrl}"
type = "Patient"
smart-client-id = "client-id.txt"
smart-key = "private.jwks"
`,
  );
  const r1 = await runCli(["bulk", "-c", files, join(tmp.path, "a")], { clock });
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal((await idsByType(join(tmp.path, "a"))).get("Patient")?.length, 2);

  // A value that names no file beside the config file stays a literal client id.
  const literal = await writeConfig(
    folder,
    "literal.toml",
    `fhir-url = "${server.baseUrl}"
type = "Patient"
smart-client-id = "config-client"
smart-key = "private.jwks"
`,
  );
  const r2 = await runCli(["bulk", "-c", literal, join(tmp.path, "b")], { clock });
  assert.equal(r2.code, 0, r2.stderr);
  const tokens = server.requests.filter((r) => r.kind === "token");
  assert.deepEqual(tokens.map((t) => t.status), [200, 200]);
});
