/**
 * `deno run -A bench/verify_bench.ts`: how fast `smart-fetch verify` checks a big managed folder,
 * against the goal of 50 MB/s of gzip data (bytes on disk) on a small node, and its peak memory.
 *
 * It builds, once, in a temporary folder, a managed-style folder of about 1 GB of gzip data: one
 * export's files (the test server's resources made varied with a fixed seed, so they compress
 * like real data, about 9x, not like the test server's 16x), copied into 8 numbered subfolders
 * as quarterly exports of the same cohort would be, each with its .metadata and log.ndjson, and
 * the top-level links. The files are read from the page cache: this measures verify, not the
 * disk. Then it runs `deno run -A main.ts verify` on it as a subprocess, twice, and the bundled
 * program once.
 *
 * Options (environment): BENCH_VERIFY_SUBFOLDERS (default 8), BENCH_VERIFY_MB (NDJSON MB of one
 * export, default 1150).
 */

import { join } from "node:path";
import { createGzip } from "node:zlib";
import { listSubfolders } from "../src/workspace/managed.ts";
import { rebuildSymlinks } from "../src/workspace/symlinks.ts";
import { generateData } from "../tests/fake_server/data/generate.ts";
import { Random } from "../tests/fake_server/prng.ts";
import { measure, ROOT, smartFetchArgs } from "./measure.ts";
import { shippedV8Flags } from "./v8_flags.ts";

const root = ROOT;
const subfolders = Number(Deno.env.get("BENCH_VERIFY_SUBFOLDERS") ?? 8);
const exportMb = Number(Deno.env.get("BENCH_VERIFY_MB") ?? 1150);
const GOAL_MBPS = 50;

/** Share of one export's NDJSON per type, and how many files each type is split into. */
const PLAN: [type: string, share: number, files: number][] = [
  ["Observation", 0.5, 6],
  ["Encounter", 0.14, 2],
  ["Condition", 0.1, 2],
  ["DocumentReference", 0.1, 1],
  ["MedicationRequest", 0.08, 1],
  ["Patient", 0.04, 1],
  ["Procedure", 0.04, 1],
];

const WORDS = ("patient reports mild pain in the left knee denies fever chills nausea vomiting " +
  "follow up in two weeks blood pressure elevated recommend lifestyle changes medication " +
  "adherence reviewed labs pending imaging normal no acute distress history of type diabetes " +
  "hypertension stable on current regimen discussed risks benefits alternatives consent")
  .split(" ");

/** Makes rows of one type from the test server's resources, each with its own id and text. */
class Rows {
  readonly #templates: { head: string; tail: string }[];
  #next = 0;
  constructor(type: string, resources: Record<string, unknown>[], private readonly rng: Random) {
    this.#templates = resources.filter((r) => r.resourceType === type).map((r) => {
      const text = JSON.stringify(r);
      const head = `{"resourceType":"${type}","id":"`;
      if (!text.startsWith(head)) throw new Error(`unexpected key order in ${text.slice(0, 60)}`);
      const rest = text.slice(head.length);
      return { head, tail: rest.slice(rest.indexOf('"')) };
    });
  }

  /** The next row (with its newline): a unique id, a fresh lastUpdated, a narrative. */
  next(serial: string): string {
    const t = this.#templates[this.#next++ % this.#templates.length]!;
    const r = this.rng;
    const words = Array.from({ length: 8 + r.int(0, 40) }, () => WORDS[r.int(0, WORDS.length - 1)]);
    const when = `202${r.int(0, 5)}-0${r.int(1, 9)}-${10 + r.int(0, 18)}T${10 + r.int(0, 13)}:${
      10 + r.int(0, 49)
    }:${10 + r.int(0, 49)}Z`;
    const tail = t.tail.replace(/"lastUpdated":"[^"]*"/, `"lastUpdated":"${when}"`);
    const div = `<div xmlns=\\"http://www.w3.org/1999/xhtml\\">${words.join(" ")} ${
      r.int(0, 99999)
    }</div>`;
    return `${t.head}${serial}${tail.slice(0, -1)},"text":{"status":"generated","div":"${div}"}}\n`;
  }
}

/** Writes `bytes` NDJSON bytes of rows as one gzip file; returns rows and NDJSON bytes. */
async function writeFile(path: string, rows: Rows, prefix: string, bytes: number) {
  const gzip = createGzip({ level: 6 });
  const file = await Deno.open(path, { write: true, createNew: true });
  const done = (async () => {
    for await (const chunk of gzip) await file.write(chunk as Uint8Array);
  })();
  const encoder = new TextEncoder();
  let written = 0, count = 0, batch: string[] = [];
  const flush = async () => {
    const data = encoder.encode(batch.join(""));
    batch = [];
    if (!gzip.write(data)) await new Promise((r) => gzip.once("drain", r));
  };
  while (written < bytes) {
    const line = rows.next(`${prefix}-${count++}`);
    written += line.length;
    batch.push(line);
    if (batch.length === 2000) await flush();
  }
  await flush();
  gzip.end();
  await done;
  file.close();
  return { rows: count, bytes: written };
}

/** One export's files, log and metadata in `dir`; returns the NDJSON bytes written. */
async function buildExport(dir: string): Promise<{ ndjson: number; files: string[] }> {
  await Deno.mkdir(dir, { recursive: true });
  const rng = new Random(20261202);
  const resources = generateData(20261202, 300) as Record<string, unknown>[];
  const log: Record<string, unknown>[] = [];
  const exportId = "bench-export";
  const row = (eventId: string, eventDetail: Record<string, unknown>) =>
    log.push({ exportId, timestamp: "2026-12-02T00:00:00.000000+00:00", eventId, eventDetail });
  row("kickoff", { exportUrl: "https://ehr.example.org/fhir/Group/bench/$export" });
  row("status_complete", { transactionTime: "2026-12-01T00:00:00.000+00:00" });
  let ndjson = 0;
  const files: string[] = [];
  for (const [type, share, count] of PLAN) {
    const rows = new Rows(type, resources, rng);
    for (let n = 1; n <= count; n++) {
      const name = `${type}.${String(n).padStart(3, "0")}.ndjson.gz`;
      const url = `https://ehr.example.org/files/${name}`;
      row("download_request", { fileUrl: url, itemType: "output", resourceType: type });
      const wrote = await writeFile(
        join(dir, name),
        rows,
        `${type}-${n}`,
        exportMb * 1e6 * share / count,
      );
      row("download_complete", { fileUrl: url, resourceCount: wrote.rows, fileSize: wrote.bytes });
      ndjson += wrote.bytes;
      files.push(name);
    }
  }
  await Deno.writeTextFile(
    join(dir, "log.ndjson"),
    log.map((r) => JSON.stringify(r) + "\n").join(""),
  );
  const types = PLAN.map(([type]) => type);
  await Deno.writeTextFile(
    join(dir, ".metadata"),
    JSON.stringify({
      kind: "output",
      timestamp: "2026-12-02T00:00:00.000000+00:00",
      version: "bench",
      filters: Object.fromEntries(types.map((t) => [t, []])),
      since: null,
      mode: "bulk",
      done: Object.fromEntries(types.map((t) => [t, "2026-12-01T00:00:00.000+00:00"])),
      complete: true,
    }),
  );
  return { ndjson, files };
}

/** Runs verify once, checks it found the folder whole, and prints its figures. */
async function timeVerify(label: string, args: string[], onDisk: number, ndjson: number) {
  const r = await measure(args);
  if (r.code !== 0) throw new Error(`verify exited ${r.code}:\n${r.stdout}${r.stderr}`);
  const s = r.ms / 1000;
  console.log(
    `${label}: ${s.toFixed(2)} s, ${(onDisk / 1e6 / s).toFixed(1)} MB/s gzip, ` +
      `${(ndjson / 1e6 / s).toFixed(0)} MB/s NDJSON, peak RSS ${r.peakRssMb.toFixed(0)} MB` +
      `\n  ${r.stdout.trim()}`,
  );
  return r;
}

const work = await Deno.makeTempDir({ prefix: "smart-fetch-verify-bench-" });
try {
  const managed = join(work, "cohort");
  const t0 = performance.now();
  const first = join(managed, "001.q1");
  const { ndjson, files } = await buildExport(first);
  for (let s = 2; s <= subfolders; s++) {
    const sub = join(managed, `${String(s).padStart(3, "0")}.q${s}`);
    await Deno.mkdir(sub);
    for (const name of [...files, "log.ndjson", ".metadata"]) {
      await Deno.copyFile(join(first, name), join(sub, name));
    }
  }
  await Deno.writeTextFile(
    join(managed, ".metadata"),
    JSON.stringify({
      "fhir-url": "https://ehr.example.org/fhir",
      group: "bench",
      kind: "managed",
      timestamp: "2026-12-02T00:00:00.000000+00:00",
      version: "bench",
    }),
  );
  await rebuildSymlinks(managed, await listSubfolders(managed));
  let onDisk = 0;
  for (const name of files) onDisk += (await Deno.stat(join(first, name))).size;
  onDisk *= subfolders;
  const totalNdjson = ndjson * subfolders;
  console.log(
    `Built ${subfolders} subfolders x ${files.length} files: ${
      (onDisk / 1e9).toFixed(2)
    } GB gzip, ` +
      `${(totalNdjson / 1e9).toFixed(2)} GB NDJSON (ratio ${(totalNdjson / onDisk).toFixed(1)}), ` +
      `in ${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s, on ${navigator.hardwareConcurrency} cores.`,
  );
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const r = await timeVerify(
      `run ${i + 1}`,
      smartFetchArgs("verify", managed),
      onDisk,
      totalNdjson,
    );
    runs.push(r);
  }
  // The bundled program: its workers run the bundle itself.
  const bundle = join(work, "smart-fetch.js");
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "-q", "-o", bundle, join(root, "main.ts")],
    cwd: root,
  }).output();
  if (!bundled.success) throw new Error(new TextDecoder().decode(bundled.stderr));
  const bundleRun = await timeVerify(
    "bundle",
    ["run", "-A", ...shippedV8Flags(), bundle, "verify", managed],
    onDisk,
    totalNdjson,
  );
  const best = Math.min(...runs.map((r) => r.ms)) / 1000;
  const mbps = onDisk / 1e6 / best;
  const bundleMbps = onDisk / 1e6 / (bundleRun.ms / 1000);
  console.log(
    `\nbest: ${mbps.toFixed(1)} MB/s of gzip data (goal >= ${GOAL_MBPS}: ${
      mbps >= GOAL_MBPS ? "met" : "NOT met"
    }), ${(totalNdjson / 1e6 / best).toFixed(0)} MB/s of NDJSON; peak RSS ${
      Math.max(...runs.map((r) => r.peakRssMb)).toFixed(0)
    } MB` +
      `\nbundle: ${bundleMbps.toFixed(1)} MB/s of gzip data (goal >= ${GOAL_MBPS}: ${
        bundleMbps >= GOAL_MBPS ? "met" : "NOT met"
      }), peak RSS ${bundleRun.peakRssMb.toFixed(0)} MB`,
  );
} finally {
  await Deno.remove(work, { recursive: true });
}
