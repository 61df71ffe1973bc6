/**
 * `deno task bench`: bulk download throughput and peak memory of smart-fetch against the test
 * server, side by side with a baseline that only reads and gzips the same bytes.
 * Goal: at least 0.8 of the baseline's throughput, and peak RSS under 150 MB whatever the size.
 *
 * Options (environment): BENCH_FILES (default 10), BENCH_MB_PER_FILE (default 110),
 * BENCH_CONNECTIONS (default 5).
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { measure } from "./measure.ts";
import { shippedV8Flags } from "./v8_flags.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const files = Number(Deno.env.get("BENCH_FILES") ?? 10);
const mbPerFile = Number(Deno.env.get("BENCH_MB_PER_FILE") ?? 110);
const connections = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 5);
const deno = Deno.execPath();

async function du(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) total += (await Deno.stat(join(dir, e.name))).size;
  }
  return total;
}

const server = new Deno.Command(deno, {
  args: [
    "run",
    "-A",
    join(root, "tests/fake_server/cli.ts"),
    "--options-json",
    JSON.stringify({
      synthetic: { type: "Observation", files, bytesPerFile: mbPerFile * 1_000_000 },
      pollsUntilReady: 0,
    }),
    "--idle-exit",
    "300",
  ],
  stdin: "piped",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
let first = "";
while (!first.includes("\n")) {
  const { value, done } = await reader.read();
  if (done) throw new Error("the test server did not start");
  first += value;
}
const { baseUrl } = JSON.parse(first.split("\n")[0]!);
const work = await Deno.makeTempDir({ prefix: "smart-fetch-bench-" });

try {
  // The baseline gets the file URLs from an export of its own, then only downloads and gzips.
  const kick = await fetch(`${baseUrl}/$export?_type=Observation`, {
    headers: { Prefer: "respond-async", Accept: "application/fhir+json" },
  });
  await kick.body?.cancel();
  const statusUrl = kick.headers.get("content-location")!;
  let manifest: { output: { url: string }[] } | undefined;
  while (!manifest) {
    const res = await fetch(statusUrl, { headers: { Accept: "application/json" } });
    if (res.status === 200) manifest = await res.json();
    else await res.body?.cancel();
  }
  const urlsPath = join(work, "urls.json");
  await Deno.writeTextFile(urlsPath, JSON.stringify(manifest.output.map((o) => o.url)));

  console.log(
    `Exporting ${files} files x ${mbPerFile} MB of NDJSON (${
      (files * mbPerFile / 1000).toFixed(2)
    } GB), ${connections} connections, on ${navigator.hardwareConcurrency} cores.`,
  );
  const base = await measure([
    "run",
    "-A",
    join(root, "bench/baseline.ts"),
    urlsPath,
    join(work, "baseline"),
    String(connections),
  ]);
  if (base.code !== 0) throw new Error(`baseline failed: ${base.stderr}`);
  const baseline = JSON.parse(base.stdout.trim());

  const outDir = join(work, "smart-fetch");
  const ours = await measure([
    "run",
    "-A",
    ...shippedV8Flags(),
    join(root, "main.ts"),
    "bulk",
    "--fhir-url",
    baseUrl,
    "--type",
    "Observation",
    "--no-default-filters",
    "--max-connections",
    String(connections),
    outDir,
  ]);
  if (ours.code !== 0) throw new Error(`smart-fetch failed: ${ours.stderr}`);
  // Download phase from our own log: first download_request to export_complete.
  const rows = (await Deno.readTextFile(join(outDir, "log.ndjson"))).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  const t = (id: string) => Date.parse(rows.find((r) => r.eventId === id)!.timestamp);
  const oursDownloadMs = t("export_complete") - t("download_request");
  const bytes = rows.filter((r) => r.eventId === "download_complete").reduce(
    (n, r) => n + r.eventDetail.fileSize,
    0,
  );

  const mbps = (b: number, ms: number) => b / 1e6 / (ms / 1000);
  const baseMbps = mbps(baseline.bytes, baseline.ms);
  const ourMbps = mbps(bytes, oursDownloadMs);
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log("");
  console.log(
    pad("", 22) + pad("NDJSON in", 12) + pad("download", 12) + pad("MB/s", 10) +
      pad("whole run", 12) + pad("peak RSS", 11) + "on disk",
  );
  console.log(
    pad("baseline (read+gzip)", 22) + pad(`${(baseline.bytes / 1e9).toFixed(2)} GB`, 12) +
      pad(`${(baseline.ms / 1000).toFixed(2)} s`, 12) +
      pad(baseMbps.toFixed(1), 10) + pad(`${(base.ms / 1000).toFixed(2)} s`, 12) +
      pad(`${base.peakRssMb.toFixed(0)} MB`, 11) +
      `${(await du(join(work, "baseline")) / 1e6).toFixed(1)} MB`,
  );
  console.log(
    pad("smart-fetch bulk", 22) + pad(`${(bytes / 1e9).toFixed(2)} GB`, 12) +
      pad(`${(oursDownloadMs / 1000).toFixed(2)} s`, 12) +
      pad(ourMbps.toFixed(1), 10) + pad(`${(ours.ms / 1000).toFixed(2)} s`, 12) +
      pad(`${ours.peakRssMb.toFixed(0)} MB`, 11) +
      `${(await du(outDir) / 1e6).toFixed(1)} MB`,
  );
  console.log("");
  const ratio = ourMbps / baseMbps;
  console.log(
    `throughput ratio to baseline: ${ratio.toFixed(2)} (goal >= 0.80: ${
      ratio >= 0.8 ? "met" : "NOT met"
    })`,
  );
  console.log(
    `peak RSS: ${ours.peakRssMb.toFixed(0)} MB (limit 150 MB: ${
      ours.peakRssMb < 150 ? "met" : "NOT met"
    })`,
  );
} finally {
  await server.stdin.close();
  await reader.cancel();
  await server.status;
  await Deno.remove(work, { recursive: true });
}
