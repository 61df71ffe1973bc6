/** `smart-fetch verify` as a test's last word on a folder: whole, and read right by the ETL. */

import assert from "node:assert/strict";
import { runCliProcess } from "./cli.ts";

/** Runs `verify` on `dirs` as a subprocess and fails with its problem lines unless it exits 0. */
export async function assertVerifies(when: string, ...dirs: string[]): Promise<void> {
  const r = await runCliProcess(["verify", ...dirs]);
  assert.equal(r.code, 0, `${when}: verify found problems:\n${r.stdout}${r.stderr}`);
}
