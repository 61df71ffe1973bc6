import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../src/clock.ts";
import { LockedError } from "../src/errors.ts";
import { ExportLog } from "../src/log/export_log.ts";
import { removeStaleTemps, writeFileAtomic } from "../src/workspace/files.ts";
import { FolderLock, lockStatus } from "../src/workspace/lock.ts";
import { OutputMetadataStore, readMetadataJson } from "../src/workspace/metadata.ts";
import { readLines } from "../src/workspace/ndjson_reader.ts";
import { AtomicFileWriter } from "../src/workspace/ndjson_writer.ts";

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("the NDJSON writer shows only a .part file until commit, then the gzip file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "Patient.001.ndjson.gz");
    const writer = await AtomicFileWriter.create(path, { gzip: true });
    const w = writer.writable.getWriter();
    await w.write(new TextEncoder().encode('{"resourceType":"Patient","id":"1"}\n'));
    const during = await names(dir);
    assert.equal(during.length, 1);
    assert.match(during[0]!, /^Patient\.001\.ndjson\.gz\.[0-9a-f]{8}\.part$/);
    assert.ok(!/\.(ndjson|jsonl)(\.gz)?$/.test(during[0]!), "temp name must not look complete");
    await w.write(new TextEncoder().encode('{"resourceType":"Patient","id":"2"}\n'));
    await w.close();
    await writer.commit();
    assert.deepEqual(await names(dir), ["Patient.001.ndjson.gz"]);
    const lines = [];
    for await (const line of readLines(path)) lines.push(JSON.parse(line).id);
    assert.deepEqual(lines, ["1", "2"]);
    assert.equal((await Deno.stat(path)).mode! & 0o007, 0, "not world-readable");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an aborted write leaves nothing behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const writer = await AtomicFileWriter.create(join(dir, "Condition.001.ndjson"), {
      gzip: false,
    });
    const w = writer.writable.getWriter();
    await w.write(new TextEncoder().encode('{"resourceType":"Condition"}\n'));
    w.releaseLock();
    await writer.abort();
    assert.deepEqual(await names(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stale temporary files from a killed run are removed; others are kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "Patient.001.ndjson.gz.0badcafe.part"), "x");
    await Deno.writeTextFile(join(dir, "Patient.001.ndjson.gz"), "y");
    await Deno.writeTextFile(join(dir, "notes.part"), "z");
    assert.equal(await removeStaleTemps(dir), 1);
    assert.deepEqual(await names(dir), ["Patient.001.ndjson.gz", "notes.part"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("metadata is written atomically, pretty, with SMART Fetch's keys", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const clock = new FakeClock();
    const store = OutputMetadataStore.open(
      dir,
      OutputMetadataStore.fresh({ filters: { Patient: [] }, since: null }, clock),
      clock,
    );
    await store.update((m) => {
      m.done = { Patient: "2026-01-01T00:00:00Z" };
    });
    const text = await Deno.readTextFile(join(dir, ".metadata"));
    assert.ok(text.startsWith(`{\n  "kind": "output",`));
    const json = await readMetadataJson(dir);
    assert.equal(json?.["kind"], "output");
    assert.deepEqual(json?.["done"], { Patient: "2026-01-01T00:00:00Z" });
    assert.match(
      String(json?.["timestamp"]),
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$/,
    );
    assert.deepEqual(await names(dir), [".metadata"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the export log repairs a line cut by a killed run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      join(dir, "log.ndjson"),
      '{"exportId":"a","eventId":"kickoff","eventDetail":{}}\n{"exportId":"a","ev',
    );
    const log = await ExportLog.open(dir, new FakeClock());
    await log.write("a", "status_complete", { transactionTime: "2026-01-01T00:00:00Z" });
    const rows = await log.rows();
    assert.deepEqual(rows.map((r) => r.eventId), ["kickoff", "status_complete"]);
    const kickoff = await ExportLog.open(dir, new FakeClock());
    await kickoff.write("b", "kickoff", { exportUrl: "http://x/$export" });
    const last = (await kickoff.rows()).at(-1)!;
    assert.deepEqual(Object.keys(last), [
      "exportId",
      "timestamp",
      "eventId",
      "eventDetail",
      "_client",
      "_clientVersion",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a folder lock refuses a second run, names the holder, and dies with its process", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lock = await FolderLock.acquire(dir, "bulk", Date.now());
    assert.equal((await lockStatus(dir)).held, true);
    await assert.rejects(
      () => FolderLock.acquire(dir, "bulk", Date.now()),
      (e: Error) => e instanceof LockedError && e.message.includes(`pid ${Deno.pid}`),
    );
    // A second run that opened the lock file before the first one finished...
    const early = await Deno.open(join(dir, ".lock"), { read: true, write: true });
    await lock.release();
    assert.equal((await lockStatus(dir)).held, false);
    assert.deepEqual(await names(dir), [], "a finished run leaves no .lock naming a dead pid");
    // ...locks a file nobody else will open: acquire() notices and starts over on a new one,
    // so two runs can never both think they hold the folder.
    assert.equal(await early.tryLock(true), true);
    const next = await FolderLock.acquire(dir, "bulk", Date.now());
    await assert.rejects(() => FolderLock.acquire(dir, "bulk", Date.now()), LockedError);
    early.close();
    await next.release();

    // A process that holds the lock and is killed with SIGKILL leaves no stale lock.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--no-config",
        `const f = await Deno.open(${
          JSON.stringify(join(dir, ".lock"))
        }, {read:true,write:true,create:true});
        await f.lock(true); console.log("locked"); setInterval(() => {}, 1000);`,
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await reader.read()).value?.trim(), "locked");
    assert.equal((await lockStatus(dir)).held, true);
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
    const again = await FolderLock.acquire(dir, "bulk", Date.now());
    await again.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic replaces content in one step", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "x.json");
    await writeFileAtomic(path, "one");
    await writeFileAtomic(path, "two");
    assert.equal(await Deno.readTextFile(path), "two");
    assert.deepEqual(await names(dir), ["x.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
