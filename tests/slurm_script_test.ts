/**
 * The example job array script, `examples/slurm/export-groups.sbatch`, run by bash as one array
 * task would run it (without Slurm: tests/slurm/ runs it on a real one), with a stand-in binary
 * that records how it was called.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./helpers/folder.ts";

const SCRIPT = fileURLToPath(new URL("../examples/slurm/export-groups.sbatch", import.meta.url));

/** Runs task `task` of the script; returns its output and the stand-in's argv, if it ran. */
async function runTask(root: string, task: number, env: Record<string, string> = {}) {
  const calls = join(root, "calls.txt");
  const stub = join(root, "smart-fetch-stub");
  await Deno.writeTextFile(stub, `#!/bin/sh\nprintf '%s\\n' "$@" > "${calls}"\n`, { mode: 0o755 });
  await Deno.remove(calls).catch(() => {});
  const out = await new Deno.Command("bash", {
    args: [SCRIPT],
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      GROUPS_DIR: join(root, "groups"),
      EXPORT_ROOT: join(root, "exports"),
      NICKNAME: "2026-Q4",
      SMART_FETCH: stub,
      SLURM_ARRAY_TASK_ID: String(task),
      ...env,
    },
    clearEnv: true,
    stdin: "null",
  }).output();
  const argv = await Deno.readTextFile(calls).then((t) => t.trimEnd().split("\n"), () => undefined);
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr), argv };
}

Deno.test("the sbatch script: task N exports group N; an emptied group is exported only where it was before", async () => {
  await using out = await tempDir();
  const root = out.path;
  const groups = join(root, "groups");
  await Deno.mkdir(groups);
  await Deno.writeTextFile(join(groups, "MRN-000"), "MRN1\nMRN2\n");
  await Deno.writeTextFile(join(groups, "MRN-001"), "");
  await Deno.writeTextFile(join(groups, "MRN-002"), "");
  await Deno.mkdir(join(root, "exports", "MRN-002"), { recursive: true });

  const full = await runTask(root, 0);
  assert.equal(full.code, 0, full.stderr);
  assert.deepEqual(full.argv, [
    "export",
    "--id-file",
    join(groups, "MRN-000"),
    "--nickname",
    "2026-Q4",
    join(root, "exports", "MRN-000"),
  ]);

  // Empty and never exported: nothing to do.
  const never = await runTask(root, 1);
  assert.equal(never.code, 0, never.stderr);
  assert.equal(never.argv, undefined);
  assert.match(never.stdout, /MRN-001 is empty and was never exported: nothing to export/);

  // Emptied after an earlier export: exported, so its patients are reported deleted.
  const emptied = await runTask(root, 2);
  assert.equal(emptied.code, 0, emptied.stderr);
  assert.deepEqual(emptied.argv?.at(-1), join(root, "exports", "MRN-002"));

  // Mistakes stop the task with a line that says what to set.
  const missing = await runTask(root, 7);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /error: no group file .*MRN-007: check GROUPS_DIR and the --array list/,
  );
  const noNickname = await runTask(root, 0, { NICKNAME: "" });
  assert.notEqual(noNickname.code, 0);
  assert.match(noNickname.stderr, /set NICKNAME to the name of this refresh/);
  assert.equal(noNickname.argv, undefined);
  const prefixed = await runTask(root, 0, { GROUP_PREFIX: "G-" });
  assert.equal(prefixed.code, 2);
  assert.match(prefixed.stderr, /no group file .*G-000/);
});
