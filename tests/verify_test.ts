/**
 * `smart-fetch verify`: real folders made by export, bulk and crawl against the fake server
 * verify clean; each broken copy of one (one thing broken) gives exactly one precise problem;
 * the line scanners agree with JSON.parse (and with each other) on random, mutated lines.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { FakeClock } from "../src/clock.ts";
import { ID_ABSENT, ID_NOT_STRING, type IdSlot } from "../src/verify/capture.ts";
import { readData } from "../src/verify/file_read.ts";
import { StreamScanner } from "../src/verify/json_stream.ts";
import { NdjsonScanner, type ScanSink } from "../src/verify/ndjson_scanner.ts";
import { hashId } from "../src/workspace/id_index.ts";
import { FakeFhirServer } from "./fake_server/mod.ts";
import { runCli, runCliProcess } from "./helpers/cli.ts";
import { exportRun } from "./helpers/managed.ts";

// ---------------------------------------------------------------- fixtures

interface Fixtures {
  root: string;
  managed: string;
  bulk: string;
  crawl: string;
  /** The managed folder's one subfolder, e.g. `001.initial`. */
  sub: string;
}

let built: Promise<Fixtures> | undefined;

/** Real folders, made once by the real tool against the fake server. */
function fixtures(): Promise<Fixtures> {
  built ??= (async () => {
    const root = await Deno.makeTempDir({ prefix: "smart-fetch-verify-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
    await using server = await FakeFhirServer.start({
      patients: 6,
      pollsUntilReady: 0,
      resourcesPerFile: 3,
    });
    const clock = new FakeClock();
    const managed = join(root, "managed");
    const types = ["--type", "Patient,Condition,Encounter"];
    const e = await exportRun(
      server,
      managed,
      clock,
      "--group",
      "all",
      "--nickname",
      "initial",
      ...types,
    );
    assert.equal(e.code, 0, e.stderr);
    const bulk = join(root, "bulk");
    const b = await runCli(
      ["bulk", "--fhir-url", server.baseUrl, "--group", "all", ...types, bulk],
      {
        clock,
      },
    );
    assert.equal(b.code, 0, b.stderr);
    const crawl = join(root, "crawl");
    const c = await runCli(
      ["crawl", "--fhir-url", server.baseUrl, "--id-list", "pat-0001,pat-0002", ...types, crawl],
      { clock },
    );
    assert.equal(c.code, 0, c.stderr);
    return { root, managed, bulk, crawl, sub: "001.initial" };
  })();
  return built;
}

/** A copy of a folder (links copied as links), to break one thing in. */
async function copyOf(source: string, name: string): Promise<string> {
  const { root } = await fixtures();
  const target = join(root, `${name}-${crypto.randomUUID().slice(0, 8)}`);
  async function copy(from: string, to: string): Promise<void> {
    await Deno.mkdir(to);
    for await (const entry of Deno.readDir(from)) {
      const [src, dst] = [join(from, entry.name), join(to, entry.name)];
      if (entry.isSymlink) await Deno.symlink(await Deno.readLink(src), dst);
      else if (entry.isDirectory) await copy(src, dst);
      else await Deno.copyFile(src, dst);
    }
  }
  await copy(source, target);
  return target;
}

/** The lines of an NDJSON(.gz) file. */
async function linesOf(path: string): Promise<string[]> {
  let bytes = await Deno.readFile(path);
  if (path.endsWith(".gz")) bytes = new Uint8Array(gunzipSync(bytes));
  return new TextDecoder().decode(bytes).split("\n").filter((l) => l !== "");
}

/** Writes lines as NDJSON, gzipped for a `.gz` name. */
async function writeLines(path: string, lines: string[]): Promise<void> {
  const bytes = new TextEncoder().encode(lines.map((l) => l + "\n").join(""));
  await Deno.writeFile(path, path.endsWith(".gz") ? gzipSync(bytes) : bytes);
}

/** Runs `verify` as a subprocess: exit code, problem lines and the summary line. */
async function verify(...args: string[]) {
  const r = await runCliProcess(["verify", ...args]);
  const lines = r.stdout.split("\n").filter((l) => l !== "");
  return { ...r, problems: lines.slice(0, -1), summary: lines.at(-1) ?? "" };
}

// ---------------------------------------------------------------- whole folders

Deno.test("real folders made by export, bulk and crawl verify clean, with exit 0", async () => {
  const f = await fixtures();
  for (const dir of [f.managed, f.bulk, f.crawl]) {
    const r = await verify(dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(r.problems, []);
    assert.match(
      r.summary,
      /^verify: the folder is whole; \d+ files, [\d,]+ resources, .+ checked$/,
    );
  }
  const all = await verify(f.managed, f.bulk, f.crawl);
  assert.equal(all.code, 0);
  assert.match(all.summary, /^verify: all 3 folders are whole; /);
});

// ---------------------------------------------------------------- one thing broken

interface Break {
  name: string;
  /** Which good folder to copy. */
  from: "managed" | "bulk";
  /** Breaks the copy `dir` (its export is `sub`); returns the one problem line expected. */
  breakIt: (dir: string, sub: string) => Promise<string | RegExp>;
}

const BREAKS: Break[] = [
  {
    name: "a truncated gzip file",
    from: "managed",
    breakIt: async (dir, sub) => {
      const file = join(sub, "Condition.001.ndjson.gz");
      const bytes = await Deno.readFile(join(dir, file));
      await Deno.writeFile(join(dir, file), bytes.subarray(0, bytes.length - 9));
      return new RegExp(
        `^${
          esc(join(dir, file))
        }: gzip data cut short after [\\d,]+ bytes of NDJSON \\(truncated file\\?\\) \\[truncated-gzip\\]$`,
      );
    },
  },
  {
    name: "a bad JSON line",
    from: "managed",
    breakIt: async (dir, sub) => {
      const file = join(dir, sub, "Patient.001.ndjson.gz");
      const lines = await linesOf(file);
      lines[1] = '{"resourceType":"Patient","id":"pat-x",}';
      await writeLines(file, lines);
      return `${file}:2: not JSON: unexpected '}' at byte 40 [bad-json]`;
    },
  },
  {
    name: "a row of the wrong type",
    from: "managed",
    breakIt: async (dir, sub) => {
      const file = join(dir, sub, "Condition.002.ndjson.gz");
      const lines = await linesOf(file);
      lines[0] = '{"resourceType":"Patient","id":"pat-new"}';
      await writeLines(file, lines);
      return `${file}:1: a Patient row in a Condition file: the ETL drops it [wrong-type]`;
    },
  },
  {
    name: "a duplicate id",
    from: "managed",
    breakIt: async (dir, sub) => {
      const first = join(dir, sub, "Encounter.001.ndjson.gz");
      const second = join(dir, sub, "Encounter.002.ndjson.gz");
      const a = await linesOf(first);
      const b = await linesOf(second);
      b[1] = a[0]!;
      await writeLines(second, b);
      const id = JSON.parse(a[0]!).id;
      return `${second}:2: duplicate id "${id}" (first at Encounter.001.ndjson.gz:1) [duplicate-id]`;
    },
  },
  {
    name: "a dangling link",
    from: "managed",
    breakIt: async (dir, sub) => {
      const link = join(dir, "Patient.001.ndjson.gz");
      await Deno.remove(link);
      await Deno.symlink(`${sub}/Patient.009.ndjson.gz`, link);
      return `${link}: a link to ${sub}/Patient.009.ndjson.gz, which does not exist: readers skip it [dangling-symlink]`;
    },
  },
  {
    name: "a leftover temporary file",
    from: "managed",
    breakIt: async (dir, sub) => {
      const temp = join(dir, sub, "Condition.003.ndjson.gz.0a1b2c3d.part");
      await Deno.writeTextFile(temp, "half a file");
      return `${temp}: a temporary file left by an interrupted write (rerun the export, or delete it) [temp-file]`;
    },
  },
  {
    name: "a log without status_complete",
    from: "bulk",
    breakIt: async (dir) => {
      const log = join(dir, "log.ndjson");
      const rows = (await Deno.readTextFile(log)).split("\n").filter((l) => l);
      const id = JSON.parse(rows[0]!).exportId;
      const kept = rows.filter((r) => JSON.parse(r).eventId !== "status_complete");
      await Deno.writeTextFile(log, kept.join("\n") + "\n");
      return `${log}: the last kickoff (line 1, export "${id}") has no status_complete: the ETL gets no export time [no-status-complete]`;
    },
  },
  {
    name: "a deleted/ Bundle that is not a transaction",
    from: "bulk",
    breakIt: async (dir) => {
      const file = join(dir, "deleted", "Bundle.Condition.ndjson.gz");
      await Deno.mkdir(join(dir, "deleted"), { recursive: true });
      const bundle = (type: string) =>
        JSON.stringify({
          resourceType: "Bundle",
          type,
          entry: [{ request: { method: "DELETE", url: "Condition/cond-gone" } }],
        });
      await writeLines(file, [bundle("transaction"), bundle("batch")]);
      return `${file}:2: a Bundle of type "batch", not "transaction": the ETL skips it [deleted-not-transaction]`;
    },
  },
  {
    name: "two data files with one base name",
    from: "managed",
    breakIt: async (dir, sub) => {
      await Deno.mkdir(join(dir, sub, "extra"));
      const other = join(dir, sub, "extra", "Condition.001.ndjson.gz");
      await writeLines(other, ['{"resourceType":"Condition","id":"cond-extra"}']);
      return `${join(dir, sub, "Condition.001.ndjson.gz")}: Condition.001.ndjson.gz is also at ` +
        "extra/Condition.001.ndjson.gz: the ETL's flat copy keeps only that one [base-name-collision]";
    },
  },
  {
    name: "an exportUrl naming another Group",
    from: "bulk",
    breakIt: async (dir) => {
      const log = join(dir, "log.ndjson");
      await Deno.writeTextFile(
        log,
        (await Deno.readTextFile(log)).replace("/Group/all/", "/Group/odd/"),
      );
      return `${log}:1: exportUrl names Group "odd", but the folder's .metadata says "all" [wrong-group]`;
    },
  },
];

function esc(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

for (const b of BREAKS) {
  Deno.test(`verify finds exactly one problem in a good folder with ${b.name}`, async () => {
    const f = await fixtures();
    const dir = await copyOf(b.from === "managed" ? f.managed : f.bulk, "broken");
    const sub = b.from === "managed" ? f.sub : ".";
    const expected = await b.breakIt(dir, sub);
    const r = await verify(dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.problems.length, 1, r.stdout);
    if (typeof expected === "string") assert.equal(r.problems[0], expected);
    else assert.match(r.problems[0]!, expected);
    assert.match(r.summary, /^verify: 1 problem in 1 of 1 folder; /);
  });
}

Deno.test("verify lists 20 problems per file, then one line with how many more", async () => {
  const f = await fixtures();
  const dir = await copyOf(f.bulk, "many");
  const file = join(dir, "Condition.001.ndjson.gz");
  const lines = await linesOf(file);
  await writeLines(file, [...lines, ...Array.from({ length: 25 }, (_, i) => `not json ${i}`)]);
  const r = await verify(dir);
  assert.equal(r.code, 1);
  const inFile = r.problems.filter((l) => l.startsWith(`${file}:`));
  assert.equal(inFile.length, 21);
  assert.equal(inFile[20], `${file}: and 5 more problems in this file [more-problems]`);
  // The 25 extra rows also make the type's count differ from the log: 26 problems in all.
  assert.match(r.summary, /^verify: 26 problems in 1 of 1 folder; /);
});

Deno.test("verify --json: one document with each folder's problems, codes and counts", async () => {
  const f = await fixtures();
  const dir = await copyOf(f.bulk, "json");
  const file = join(dir, "Patient.001.ndjson.gz");
  const lines = await linesOf(file);
  lines[0] = "[1,2]";
  await writeLines(file, lines);
  const r = await runCliProcess(["verify", "--json", dir, f.crawl]);
  assert.equal(r.code, 1);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.ok, false);
  assert.equal(doc.folders.length, 2);
  const [broken, clean] = doc.folders;
  assert.deepEqual(
    { ...broken, files: 0, resources: 0, bytes: 0 },
    {
      path: dir,
      kind: "output",
      ok: false,
      files: 0,
      resources: 0,
      bytes: 0,
      problemCount: 1,
      problems: [{ file, line: 1, code: "not-object", message: "an array, not a JSON object" }],
      notes: [],
    },
  );
  assert.ok(broken.files > 0 && broken.resources > 0 && broken.bytes > 0);
  assert.equal(clean.ok, true);
  assert.equal(clean.kind, "output");
  assert.deepEqual(clean.problems, []);
  assert.match(doc.summary, /^verify: 1 problem in 1 of 2 folders; /);
});

Deno.test("verify notes deletions of a type the export has no file of, without failing", async () => {
  const f = await fixtures();
  const dir = await copyOf(f.bulk, "notes");
  const file = join(dir, "deleted", "Bundle.001.ndjson.gz");
  await Deno.mkdir(join(dir, "deleted"), { recursive: true });
  const bundle = (...urls: string[]) =>
    JSON.stringify({
      resourceType: "Bundle",
      type: "transaction",
      entry: urls.map((url) => ({ request: { method: "DELETE", url } })),
    });
  // Conditions are in the export (their task runs); Observations are not.
  await writeLines(file, [
    bundle("Condition/cond-gone", "Observation/obs-1"),
    bundle("Observation/obs-2"),
  ]);
  const r = await verify(dir);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(r.problems, [
    `${file}: note: 2 Observation deletion(s), but the export has no Observation file: Cumulus ETL ` +
    "runs no Observation task then, so it applies them only with --allow-missing-resources " +
    "[deletions-need-flag]",
  ]);
  assert.match(r.summary, /^verify: the folder is whole; .* checked; 1 note$/);
  const json = JSON.parse((await runCliProcess(["verify", "--json", dir])).stdout);
  assert.equal(json.ok, true);
  assert.deepEqual(json.folders[0].notes.map((n: { code: string }) => n.code), [
    "deletions-need-flag",
  ]);
  assert.equal(json.folders[0].problemCount, 0);
});

Deno.test("verify: a missing folder or one that is not an export folder is exit 2", async () => {
  const f = await fixtures();
  const missing = await runCliProcess(["verify", join(f.root, "nope")]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: Folder '.*nope' does not exist\.\n$/);
  assert.equal(missing.stdout, "");
  const plain = join(f.root, "plain");
  await Deno.mkdir(plain, { recursive: true });
  const notExport = await runCliProcess(["verify", f.bulk, plain]);
  assert.equal(notExport.code, 2);
  assert.match(notExport.stderr, /is not an export folder: it has no smart-fetch \.metadata/);
  const none = await runCliProcess(["verify"]);
  assert.equal(none.code, 2);
});

Deno.test("the bundled program checks in workers (itself, as a worker) and says the same", async () => {
  const f = await fixtures();
  const dir = await copyOf(f.managed, "bundled");
  const file = join(dir, f.sub, "Condition.001.ndjson.gz");
  await writeLines(file, [...await linesOf(file), "[1]", '{"resourceType":"Condition"}']);
  const outside = await Deno.makeTempDir({ prefix: "smart-fetch-verify-bundle-" });
  try {
    const js = join(outside, "smart-fetch.js");
    const repo = new URL("..", import.meta.url);
    const bundled = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "-q", "-o", js, "main.ts"],
      cwd: repo,
    }).output();
    assert.ok(bundled.success, new TextDecoder().decode(bundled.stderr));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", js, "verify", "--verbose", dir],
      cwd: outside,
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.match(stderr, /Checking files in \d+ workers\./);
    assert.doesNotMatch(stderr, /error/i);
    const sources = await verify(dir);
    assert.equal(stdout, sources.stdout);
    assert.match(stdout, /Condition\.001\.ndjson\.gz:\d+: .*\[not-object\]/);
    assert.match(stdout, /Condition\.001\.ndjson\.gz:\d+: .*\[missing-id\]/);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

// ---------------------------------------------------------------- the line scanners

/** A seeded PRNG (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = [
  "",
  "a",
  "Patient",
  "obs-1",
  "d\u00e9j\u00e0",
  "\u{1F600}",
  'q"t',
  "b\\s",
  "t\t",
  "\u0001",
  "\ud800",
];
const KEYS = ["a", "id", "resourceType", "b", "r\u00e9", "x y"];
const MUTATIONS = [
  ...Array.from('"\\{}[],:0123456789-.eE+ tnfrule\t\rax', (c) => c.charCodeAt(0)),
  0x00,
  0x1f,
  0x7f,
  0x80,
  0xbf,
  0xc0,
  0xc2,
  0xe0,
  0xed,
  0xef,
  0xf0,
  0xf4,
  0xf5,
  0xff,
  0xa0,
];

/** Random lines: mostly resource-like objects, some other values, many of them mutated. */
function randomLines(rnd: () => number, n: number): Uint8Array[] {
  const int = (k: number) => Math.floor(rnd() * k);
  const pick = <T>(a: readonly T[]) => a[int(a.length)]!;
  const value = (depth: number): unknown => {
    const k = int(depth > 4 ? 5 : 8);
    if (k === 0) return pick(STRINGS) + String(int(100));
    if (k === 1) return pick([0, -0, 1, -1, 12.5, 1e21, 1.5e-7, -3.25e10, 0.1]);
    if (k === 2) return pick([true, false, null]);
    if (k < 5) return pick(STRINGS);
    if (k === 5) return Array.from({ length: int(4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(KEYS), value(depth + 1)]));
  };
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    let text: string;
    if (rnd() < 0.1) text = JSON.stringify(value(3));
    else {
      const o: Record<string, unknown> = {};
      if (rnd() < 0.8) o.resourceType = rnd() < 0.9 ? pick(["Patient", "Bundle", 'Q"x']) : value(4);
      if (rnd() < 0.8) {
        o.id = rnd() < 0.9 ? pick(["p1", "\u00e9", 'a"b', "a\\b", ""]) + int(99) : value(4);
      }
      for (let k = int(5); k > 0; k--) o[`k${k}`] = value(1);
      text = JSON.stringify(o, null, rnd() < 0.3 ? 1 : undefined).replace(/\n/g, " ");
      if (rnd() < 0.1) text = text.replace('"resourceType"', '"resource\\u0054ype"');
    }
    const bytes = Array.from(new TextEncoder().encode(text));
    if (rnd() < 0.6) {
      for (let m = 1 + int(3); m > 0; m--) {
        const at = int(bytes.length + 1);
        const op = int(3);
        if (op === 0) bytes.splice(at, 1);
        else if (op === 1) bytes.splice(at, 0, pick(MUTATIONS));
        else if (bytes.length) bytes[Math.min(at, bytes.length - 1)] = pick(MUTATIONS);
      }
    }
    out.push(new Uint8Array(bytes.filter((b) => b !== 0x0a)));
  }
  return out;
}

/** A top-level value as the tests write it: `absent`, `null` (not a string) or the string. */
const show = (v: unknown) => v === undefined ? "absent" : JSON.stringify(v);

/** What a scanner reports for `bytes` fed in chunks of `size()` bytes. */
function scan(bytes: Uint8Array, size: () => number, stream: boolean): string[] {
  const out: string[] = [];
  const idOf = (id: IdSlot) => {
    if (id.kind === ID_ABSENT) return undefined;
    if (id.kind === ID_NOT_STRING) return null;
    assert.equal(id.hash(), hashId(id.text()), "the byte hash is hashId of the id");
    return id.text();
  };
  const sink: ScanSink = {
    object: (line, type, id) => void out.push(`${line} ${show(type)} ${show(idOf(id))}`),
    bad: (line, code, message) => void out.push(`${line} ${code} ${message}`),
  };
  const scanner = stream ? new StreamScanner(sink) : new NdjsonScanner(sink);
  for (let i = 0; i < bytes.length;) {
    const n = size();
    scanner.feed(bytes.slice(i, i + n));
    i += n;
  }
  scanner.end();
  return out;
}

Deno.test("the line scanners reject exactly what JSON.parse rejects, and agree on every message", () => {
  const rnd = random(20261202);
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let bad = 0;
  for (let round = 0; round < 1500; round++) {
    const lines = randomLines(rnd, 1 + Math.floor(rnd() * 6));
    const joined = lines.flatMap((
      l,
      i,
    ) => [...l, ...(i < lines.length - 1 || rnd() < 0.7 ? [10] : [])]);
    const bytes = new Uint8Array(joined);
    const expected: string[] = [];
    lines.forEach((line, i) => {
      let value: unknown;
      try {
        const text = strict.decode(line);
        if (!/[^ \t\r]/.test(text)) return;
        value = JSON.parse(text);
      } catch {
        expected.push(`${i + 1} BAD`);
        bad++;
        return;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        expected.push(`${i + 1} not-object`);
        return;
      }
      const o = value as Record<string, unknown>;
      const field = (k: string) =>
        Object.hasOwn(o, k) ? typeof o[k] === "string" ? o[k] : null : undefined;
      expected.push(`${i + 1} ${show(field("resourceType"))} ${show(field("id"))}`);
    });
    const whole = scan(bytes, () => bytes.length + 1, false);
    const normalized = whole.map((e) =>
      e.replace(/^(\d+) (bad-json|bad-utf8) .*$/, "$1 BAD").replace(
        /^(\d+) not-object .*$/,
        "$1 not-object",
      )
    );
    const context = new TextDecoder().decode(bytes);
    assert.deepEqual(normalized, expected, context);
    assert.deepEqual(scan(bytes, () => 1 + Math.floor(rnd() * 7), false), whole, context);
    assert.deepEqual(scan(bytes, () => 1 + Math.floor(rnd() * 40), true), whole, context);
  }
  assert.ok(bad > 1000, `enough broken lines were tried (${bad})`);
});

Deno.test("the line scanners: nesting too deep, cut lines, UTF-8 and blank lines", () => {
  const run = (text: string | Uint8Array) => {
    const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
    const whole = scan(bytes, () => bytes.length + 1, false);
    assert.deepEqual(scan(bytes, () => 3, true), whole);
    return whole;
  };
  const deep = "[".repeat(900) + "]".repeat(900);
  assert.deepEqual(run(`{"a":${deep}}\n`), [
    "1 bad-json not JSON: nested deeper than 900 levels at byte 905",
  ]);
  assert.deepEqual(run(`{"a":${deep.slice(1, -1)}}\n`), ["1 absent absent"]);
  assert.deepEqual(run('{"resourceType":"Patient","id":"a\n{"id":1}\n'), [
    "1 bad-json not JSON: the line ends before its value does (cut short?)",
    "2 absent null",
  ]);
  assert.deepEqual(
    run(new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d, 0x0a])),
    [
      "1 bad-utf8 not UTF-8 at byte 8",
    ],
  );
  assert.deepEqual(run('\n\r\n{"resourceType":"Patient","id":"p"}\r\n\n'), ['3 "Patient" "p"']);
});

// ---------------------------------------------------------------- reading gzip like the ETL

Deno.test("gzip files read as the ETL reads them: every member, and each fault named", async () => {
  const { root } = await fixtures();
  const enc = new TextEncoder();
  const a = new Uint8Array(gzipSync(enc.encode('{"a":1}\n'.repeat(2000))));
  const b = new Uint8Array(gzipSync(enc.encode('{"b":2}\n')));
  const cat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));
  const cases: [string, Uint8Array, string | undefined, number][] = [
    ["one member", a, undefined, 16000],
    ["two members", cat(a, b), undefined, 16008],
    ["zero padding (Python's gzip allows it)", cat(a, new Uint8Array(9)), undefined, 16000],
    ["cut short", a.subarray(0, a.length - 5), "truncated-gzip", 16000],
    ["a second member cut short", cat(a, b.subarray(0, 15)), "truncated-gzip", -1],
    ["garbage after the data", cat(a, enc.encode("garbage!")), "gzip-trailing-data", -1],
    [
      "zeros, then garbage",
      cat(a, new Uint8Array(3), enc.encode("xx")),
      "gzip-trailing-data",
      16000,
    ],
    ["plain text", enc.encode('{"a":1}\n'), "not-gzip", 0],
    [
      "a damaged checksum",
      (() => {
        const c = a.slice();
        c[c.length - 6]! ^= 1;
        return c;
      })(),
      "corrupt-gzip",
      -1,
    ],
  ];
  for (const streams of [false, true]) {
    for (const [name, bytes, fault, out] of cases) {
      const path = join(root, "case.ndjson.gz");
      await Deno.writeFile(path, bytes);
      const got = await readData(path, { gzip: true, streams }, () => {});
      assert.equal(got.fault?.code, fault, `${name} (streams: ${streams}): ${got.fault?.message}`);
      if (out >= 0) assert.equal(got.bytesOut, out, `${name} (streams: ${streams})`);
    }
  }
  const plain = join(root, "Patient.ndjson");
  await Deno.writeFile(plain, a);
  const got = await readData(plain, { gzip: false }, () => {});
  assert.equal(got.fault?.code, "unexpected-gzip");
});
