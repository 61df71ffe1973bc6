/**
 * The Slurm workflow of the README on a real single-node Slurm: `cohort split` an MRN list into
 * groups, submit `examples/slurm/export-groups.sbatch` as a job array against the fake FHIR
 * server (SMART auth, credentials only in the config file), `scancel` one task mid-run, resubmit
 * what `status --unfinished` lists, and check every group is complete, `status` and `verify` say
 * so, and the data equals a run of the same groups without Slurm.
 *
 * Not picked up by `deno task test` (it installs Debian packages and starts daemons as root):
 * `.ci/run` runs it with `deno task test:slurm`. Where Slurm cannot run (no apt-get, not root,
 * not Linux) the test is ignored and says why.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FakeFhirServer, MRN_SYSTEM } from "../fake_server/mod.ts";
import { listFiles, readResources, sleep } from "../helpers/folder.ts";
import { installSlurm, type JobcompRecord, slurmAvailability, startCluster } from "./cluster.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const SCRIPT = join(REPO, "examples/slurm/export-groups.sbatch");
const GROUPS = 6;
const PER_GROUP = 8;
const NICKNAME = "2026-Q4";
const TYPES = "Patient,Condition,Observation,Encounter";
const CLIENT = "slurm-test-client";

const available = await slurmAvailability();
if (!available.ok) console.log(`SKIPPED: the Slurm test cannot run here: ${available.reason}`);

Deno.test({
  name: "slurm: a job array over cohort split groups, one task cancelled and resubmitted",
  ignore: !available.ok,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const t0 = performance.now();
    const lap = (what: string) =>
      console.log(`  ${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const install = await installSlurm();
    lap(`Slurm ${install.installed ? "installed" : "already installed"}`);
    const tmp = await Deno.makeTempDir({ prefix: "smart-fetch-slurm-e2e-" });
    let passed = false;
    try {
      const bin = await installProgram(tmp);
      lap("program bundled");
      await using server = await FakeFhirServer.start({
        patients: GROUPS * PER_GROUP,
        latency: { kind: "constant", ms: 120 },
        auth: { mode: "smart", clients: [{ clientId: CLIENT, jwks: publicJwks() }] },
      });
      const config = await writeConfig(tmp, server.baseUrl);
      const env = { SMART_FETCH: bin, SMART_FETCH_CONFIG: config, NICKNAME };
      const sf = (args: string[]) => run(bin, args, { env });

      // The MRN list, in no particular order, with a duplicate and a blank line.
      const mrns = Array.from({ length: GROUPS * PER_GROUP }, (_, i) => mrn(i + 1));
      const list = join(tmp, "mrns.txt");
      await Deno.writeTextFile(list, [...mrns.reverse(), mrn(3), ""].join("\n"));
      const groupsDir = join(tmp, "groups");
      const split = await sf([
        "cohort",
        "split",
        list,
        "--size",
        `${PER_GROUP}`,
        "--into",
        groupsDir,
      ]);
      assert.equal(split.code, 0, split.stderr);
      assert.match(split.stdout, new RegExp(`--array=0-${GROUPS - 1}\\n`));
      const names = Array.from({ length: GROUPS }, (_, i) => `MRN-${String(i).padStart(3, "0")}`);

      // Without Slurm: the same groups, three at a time, the reference.
      const ref = join(tmp, "reference");
      for (let i = 0; i < names.length; i += 3) {
        await Promise.all(
          names.slice(i, i + 3).map(async (name) => {
            const r = await sf([
              "export",
              "--id-file",
              join(groupsDir, name),
              "--nickname",
              NICKNAME,
              join(ref, name),
            ]);
            assert.equal(r.code, 0, `${name}: ${r.stderr}`);
          }),
        );
      }
      lap(`reference: ${GROUPS} groups exported without Slurm, three at a time`);

      await using cluster = await startCluster({ dir: join(tmp, "cluster") });
      lap(`cluster started in ${(cluster.startupMs / 1000).toFixed(1)} s`);
      const root = join(tmp, "root");
      const logs = join(tmp, "logs");
      await Deno.mkdir(logs);
      const jobEnv = { ...env, GROUPS_DIR: groupsDir, EXPORT_ROOT: root };
      const submitted = server.requests.length;
      const submittedAt = performance.now();
      const job = await cluster.sbatch([`--array=0-${GROUPS - 1}%${GROUPS}`, SCRIPT], {
        env: jobEnv,
        cwd: logs,
      });

      // Cancel task 2 once it has done a good part of its searches (not all: it must resume).
      const victim = 2;
      const victimPatients = new Set(patientsOf(victim));
      const searchesOf = (from: number) =>
        server.requests.slice(from).filter((q) => {
          const m = /(?:^|&)patient=([^&]+)/.exec(q.query);
          return m !== null && victimPatients.has(decodeURIComponent(m[1]!));
        });
      let before = 0;
      for (let i = 0; i < 1200 && before < 12; i++) {
        await sleep(25);
        before = searchesOf(submitted).length;
      }
      assert.ok(before >= 12, `task ${victim} made only ${before} searches before the timeout`);
      const killedAt = server.requests.length;
      await cluster.scancel(`${job}_${victim}`);
      await cluster.waitGone(job, 180_000);
      lap(
        `job array ${job} done in ${
          ((performance.now() - submittedAt) / 1000).toFixed(1)
        } s, task ${victim} cancelled after ${before} searches`,
      );

      const first = byTask(await cluster.jobcomp(), job);
      assert.equal(first.get(victim)?.state, "CANCELLED", `task ${victim}: ${show(first)}`);
      for (const [task, rec] of first) {
        if (task !== victim) {
          assert.deepEqual([rec.state, rec.exitCode], ["COMPLETED", 0], `task ${task}`);
        }
      }
      const victimLog = await Deno.readTextFile(join(logs, `smart-fetch-${job}_${victim}.log`));
      assert.match(victimLog, /Interrupted \(SIGTERM\)\. Run the same command again to resume\./);

      // status names the cancelled group; --unfinished gives exactly its index for --array.
      const folders = names.map((n) => join(root, n));
      const mid = await sf(["status", ...folders]);
      assert.match(mid.stdout, new RegExp(`MRN-00${victim}\\s+001\\.${NICKNAME}\\s+interrupted`));
      const todo = await sf(["status", "--unfinished", ...folders]);
      assert.equal(todo.stdout, `${victim}\n`, todo.stderr);

      const again = await cluster.sbatch([`--array=${todo.stdout.trim()}`, SCRIPT], {
        env: jobEnv,
        cwd: logs,
      });
      await cluster.waitGone(again, 180_000);
      lap(`resubmitted --array=${todo.stdout.trim()} (job ${again}) done`);
      const second = byTask(await cluster.jobcomp(), again);
      assert.deepEqual(
        [second.get(victim)?.state, second.get(victim)?.exitCode],
        ["COMPLETED", 0],
        show(second),
      );

      // Resumed, not started over: few of the searches done before the kill were made again.
      const after = searchesOf(killedAt).map((q) => `${q.path}?${q.query}`);
      const earlier = new Set(
        searchesOf(submitted).slice(0, before).map((q) => `${q.path}?${q.query}`),
      );
      const repeated = after.filter((u) => earlier.has(u)).length;
      assert.ok(
        repeated <= before / 2,
        `the resubmitted task repeated ${repeated} of the ${before} searches made before the kill`,
      );

      // Every group complete, status says so, and the data equals the run without Slurm.
      const status = await sf(["status", ...folders]);
      assert.equal(status.code, 0, status.stderr);
      assert.equal(
        status.stdout.trim().split("\n").at(-1),
        `${GROUPS} of ${GROUPS} complete, 0 running, 0 failed, 0 not started`,
      );
      console.log(status.stdout.replaceAll(tmp, "$TMP"));
      for (const name of names) {
        assert.deepEqual(
          await resourcesOf(join(root, name)),
          await resourcesOf(join(ref, name)),
          `${name}: the Slurm run's data differs from the run without Slurm`,
        );
      }
      const unfinished = await sf(["status", "--unfinished", ...folders]);
      assert.equal(unfinished.stdout, "\n");
      // The README's step 5: verify finds every group whole, the cancelled and resumed one too.
      const verified = await sf(["verify", ...folders]);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.match(verified.stdout, new RegExp(`^verify: all ${GROUPS} folders are whole; `));
      console.log(verified.stdout.trim());
      lap("all groups complete and equal to the reference");
      passed = true;
    } finally {
      if (passed) await Deno.remove(tmp, { recursive: true });
      else console.log(`  kept ${tmp} for a look`);
    }
  },
});

function mrn(n: number): string {
  return `MRN${String(n).padStart(4, "0")}`;
}

/** The fake server's patient ids of group `g` (MRN000n belongs to pat-000n; split keeps order). */
function patientsOf(g: number): string[] {
  // The list was written in reverse: group 0 holds the highest MRNs.
  const total = GROUPS * PER_GROUP;
  return Array.from(
    { length: PER_GROUP },
    (_, i) => `pat-${String(total - g * PER_GROUP - i).padStart(4, "0")}`,
  );
}

/** Bundles the program and installs a `smart-fetch` command that runs it, as the binary would. */
async function installProgram(tmp: string): Promise<string> {
  const js = join(tmp, "smart-fetch.js");
  const b = await run(Deno.execPath(), ["bundle", "-q", "-o", js, join(REPO, "main.ts")], {
    cwd: REPO,
  });
  assert.equal(b.code, 0, b.stderr);
  const bin = join(tmp, "bin", "smart-fetch");
  await Deno.mkdir(dirname(bin));
  await Deno.writeTextFile(
    bin,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A --v8-flags=--max-semi-space-size=2,--heap-growing-percent=50 "${js}" "$@"\n`,
    { mode: 0o755 },
  );
  return bin;
}

/** The config file: server, cohort system, types, limits and the credentials' file names. */
async function writeConfig(tmp: string, fhirUrl: string): Promise<string> {
  const secure = join(tmp, "secure");
  await Deno.mkdir(secure, { mode: 0o700 });
  await Deno.writeTextFile(join(secure, "client-id.txt"), `${CLIENT}\n`, { mode: 0o600 });
  await Deno.copyFile(
    join(REPO, "testdata/keys/es384.private.jwks.json"),
    join(secure, "private.jwks"),
  );
  const config = join(secure, "ehr.toml");
  await Deno.writeTextFile(
    config,
    [
      `fhir-url = "${fhirUrl}"`,
      `id-system = "${MRN_SYSTEM}"`,
      `type = "${TYPES}"`,
      `smart-client-id = "client-id.txt"`,
      `smart-key = "private.jwks"`,
      `max-connections = 2`,
      `max-requests-per-second = 50`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return config;
}

function publicJwks(): { keys: JsonWebKey[] } {
  return JSON.parse(
    Deno.readTextFileSync(join(REPO, "testdata/keys/es384.public.jwks.json")),
  );
}

/** Every resource of a group's newest export, per type, as sorted JSON lines. */
async function resourcesOf(group: string): Promise<Record<string, string[]>> {
  const subs = (await Array.fromAsync(Deno.readDir(group)))
    .filter((e) => e.isDirectory && /^\d{3}\./.test(e.name)).map((e) => e.name).sort();
  assert.equal(subs.length, 1, `${group} holds ${subs.join(", ")}`);
  const sub = join(group, subs[0]!);
  const out: Record<string, string[]> = {};
  for (const file of await listFiles(sub)) {
    if (!/\.ndjson\.gz$/.test(file) || file.startsWith("error/")) continue;
    for (const r of await readResources(join(sub, file))) {
      (out[`${dirname(file)}/${r.resourceType}`] ??= []).push(JSON.stringify(r));
    }
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

/** The last jobcomp record of each task of array `job`. */
function byTask(records: JobcompRecord[], job: number): Map<number, JobcompRecord> {
  const out = new Map<number, JobcompRecord>();
  for (const r of records) {
    if (r.arrayJobId === job && r.arrayTaskId !== undefined && r.state !== "PENDING") {
      out.set(r.arrayTaskId, r);
    }
  }
  return out;
}

function show(m: Map<number, JobcompRecord>): string {
  return [...m].map(([t, r]) => `${t}=${r.state}:${r.exitCode}`).join(" ");
}

async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}
