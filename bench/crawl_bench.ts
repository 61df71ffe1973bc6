/**
 * `deno task bench` (crawl part): the crawl against the test server, in figures.
 *
 * - Efficiency at a constant 25 ms latency: ideal / actual, where ideal = requests x latency /
 *   connections. Goal >= 0.95.
 * - Long tail (85% 10 ms, 14.5% 60 ms, 0.5% 4 s): wall time against the larger of the ideal
 *   (latency sum / connections) and the longest chain of sequential pages. Goal <= 1.15x.
 * - MRN resolution of 10k MRNs: requests and seconds, batched against one by one.
 * - Memory: peak RSS of a 10k-patient, 14-type crawl. Goal < 150 MB.
 *
 * The server runs in this process (its request log gives each request's latency); smart-fetch
 * runs as its own process, measured. Environment: BENCH_CRAWL_PATIENTS (default 300),
 * BENCH_MEMORY_PATIENTS (default 10000).
 */

import { join } from "node:path";
import { FakeFhirServer, type FakeServerOptions } from "../tests/fake_server/mod.ts";
import { measure, smartFetchArgs } from "./measure.ts";

const PATIENTS = Number(Deno.env.get("BENCH_CRAWL_PATIENTS") ?? 300);
const MEMORY_PATIENTS = Number(Deno.env.get("BENCH_MEMORY_PATIENTS") ?? 10_000);
const CONNECTIONS = 5;

const pid = (n: number, width: number) => `pat-${String(n).padStart(width, "0")}`;
const mrn = (n: number, width: number) => `MRN${String(n).padStart(width, "0")}`;

/** Crawls the server's first `patients` patients (all 14 types); returns the server's log. */
async function crawlRun(options: FakeServerOptions, patients: number, extra: string[] = []) {
  await using server = await FakeFhirServer.start({ patients, ...options });
  const work = await Deno.makeTempDir({ prefix: "smart-fetch-crawl-bench-" });
  try {
    const ids = join(work, "ids.txt");
    const width = Math.max(4, String(patients).length);
    await Deno.writeTextFile(
      ids,
      Array.from({ length: patients }, (_, i) => pid(i + 1, width)).join("\n"),
    );
    const run = await measure(smartFetchArgs(
      "crawl",
      "--fhir-url",
      server.baseUrl,
      "--max-connections",
      String(CONNECTIONS),
      "--id-file",
      ids,
      ...extra,
      join(work, "out"),
    ));
    if (run.code !== 0) throw new Error(`crawl failed: ${run.stderr}`);
    const delayed = server.requests.filter((r) => r.kind === "search" || r.kind === "read");
    const lat = (r: { latencyMs?: number }) => r.latencyMs ?? 0;
    const start = delayed.reduce((m, r) => Math.min(m, r.time), Infinity);
    const end = delayed.reduce((m, r) => Math.max(m, r.answered ?? r.time + lat(r)), 0);
    const latencySum = delayed.reduce((n, r) => n + lat(r), 0);
    // A chain: the pages of one search, one after another (the query minus paging).
    const chains = new Map<string, number>();
    for (const r of delayed) {
      const key = r.path + "?" +
        r.query.split("&").filter((p) => !/^_(offset|count)=/.test(p)).join("&");
      chains.set(key, (chains.get(key) ?? 0) + lat(r));
    }
    // What the server really spent on each request (its latency, its own work and the late
    // firing of its timers): the share of connection time the client kept busy.
    const busy = delayed.reduce((n, r) => n + ((r.answered ?? r.time) - r.time), 0);
    return {
      requests: delayed.length,
      wallMs: end - start,
      latencySum,
      busyShare: busy / (CONNECTIONS * (end - start)),
      longestChain: [...chains.values()].reduce((a, b) => Math.max(a, b), 0),
      run,
    };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** Resolves `n` MRNs; returns requests and seconds of the resolution step. */
async function resolution(n: number, identifierOr: boolean) {
  await using server = await FakeFhirServer.start({
    patients: n,
    identifierOr,
    latency: { kind: "constant", ms: 10 },
  });
  const work = await Deno.makeTempDir({ prefix: "smart-fetch-mrn-bench-" });
  try {
    const ids = join(work, "mrns.txt");
    const width = Math.max(4, String(n).length);
    await Deno.writeTextFile(
      ids,
      Array.from({ length: n }, (_, i) => mrn(i + 1, width)).join("\n"),
    );
    const run = await measure(smartFetchArgs(
      "crawl",
      "--fhir-url",
      server.baseUrl,
      "--type",
      "Patient",
      "--id-system",
      "urn:oid:1.2.3.4",
      "--id-file",
      ids,
      join(work, "out"),
    ));
    if (run.code !== 0) throw new Error(`resolution failed: ${run.stderr}`);
    const searches = server.requests.filter((r) => r.kind === "search");
    const start = Math.min(...searches.map((r) => r.time));
    const end = Math.max(...searches.map((r) => r.time + (r.latencyMs ?? 0)));
    return { requests: searches.length, seconds: (end - start) / 1000 };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
console.log("");
console.log(`Crawl: ${PATIENTS} patients, 14 types, ${CONNECTIONS} connections.`);

const constant = await crawlRun({ latency: { kind: "constant", ms: 25 } }, PATIENTS);
const ideal = constant.requests * 25 / CONNECTIONS;
const efficiency = ideal / constant.wallMs;
console.log(
  `constant 25 ms: ${constant.requests} requests in ${
    (constant.wallMs / 1000).toFixed(2)
  } s; ideal ${(ideal / 1000).toFixed(2)} s; efficiency ${efficiency.toFixed(3)} (goal >= 0.95: ${
    verdict(efficiency >= 0.95)
  }; SMART Fetch 0.84-0.88); connections busy ${(constant.busyShare * 100).toFixed(1)}%`,
);

const tail = await crawlRun(
  { latency: { kind: "longTail", seed: 7 }, heavyPatients: { count: 3, observations: 300 } },
  PATIENTS,
);
const bound = Math.max(tail.latencySum / CONNECTIONS, tail.longestChain);
const tailRatio = tail.wallMs / bound;
console.log(
  `long tail: ${tail.requests} requests in ${(tail.wallMs / 1000).toFixed(2)} s; ideal ${
    (tail.latencySum / CONNECTIONS / 1000).toFixed(2)
  } s, longest chain ${(tail.longestChain / 1000).toFixed(2)} s; ratio ${
    tailRatio.toFixed(3)
  } (goal <= 1.15: ${verdict(tailRatio <= 1.15)}; SMART Fetch about 1.9); connections busy ${
    (tail.busyShare * 100).toFixed(1)
  }%`,
);

const batched = await resolution(10_000, true);
const single = await resolution(10_000, false);
console.log(
  `10k MRNs (10 ms latency): batched ${batched.requests} requests, ${
    batched.seconds.toFixed(2)
  } s; one by one ${single.requests} requests, ${single.seconds.toFixed(2)} s`,
);

const memory = await crawlRun({ logRequests: false }, MEMORY_PATIENTS);
console.log(
  `memory: ${MEMORY_PATIENTS.toLocaleString("en-US")}-patient crawl of 14 types, whole run ${
    (memory.run.ms / 1000).toFixed(1)
  } s, peak RSS ${memory.run.peakRssMb.toFixed(0)} MB (limit 150 MB: ${
    verdict(memory.run.peakRssMb < 150)
  })`,
);
