/** `chunkBytes`: every body in small HTTP chunks, so a client's reads are that small. */

import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { FakeFhirServer } from "./mod.ts";
import { exportManifest, kickoff } from "./test_helpers.ts";
import { concatBytes, rawGet, readChunks } from "./wire_helpers.ts";

const IDENTITY = { "accept-encoding": "identity" };

function largest(chunks: { length: number }[]): number {
  return Math.max(0, ...chunks.map((c) => c.length));
}

Deno.test("chunkBytes: a file arrives in reads of at most 97 bytes, byte-identical, gzip or not", async () => {
  const options = { pollsUntilReady: 0, resourcesPerFile: 1000 };
  await using server = await FakeFhirServer.start({ ...options, chunkBytes: 97 });
  // Infinity overrides SMART_FETCH_FAKE_CHUNK_BYTES, should the suite run with it.
  await using plain = await FakeFhirServer.start({ ...options, chunkBytes: Infinity });
  const query = "/$export?_type=Observation";
  const url = (await exportManifest(server.baseUrl + query)).output[0]!.url;
  const normal = await fetch((await exportManifest(plain.baseUrl + query)).output[0]!.url, {
    headers: IDENTITY,
  });
  const expected = new Uint8Array(await normal.arrayBuffer());
  assert.equal(Number(normal.headers.get("content-length")), expected.length);
  assert.ok(expected.length > 10_000);

  const res = await fetch(url, { headers: IDENTITY });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("transfer-encoding"), "chunked");
  assert.equal(res.headers.get("content-length"), null);
  assert.equal(res.headers.get("content-encoding"), null);
  const chunks = await readChunks(res);
  assert.ok(largest(chunks) <= 97, `a read of ${largest(chunks)} bytes`);
  assert.ok(chunks.length >= Math.ceil(expected.length / 97));
  assert.deepEqual(concatBytes(chunks), expected);

  // Gzip: compressed first, then chunked; fetch still decodes it.
  const gz = await fetch(url, { headers: { "accept-encoding": "gzip" } });
  assert.equal(gz.headers.get("content-encoding"), "gzip");
  assert.equal(gz.headers.get("transfer-encoding"), "chunked");
  assert.deepEqual(new Uint8Array(await gz.arrayBuffer()), expected);
  const wire = await rawGet(url, { "accept-encoding": "gzip" });
  assert.equal(wire.headers["content-encoding"], "gzip");
  assert.ok(wire.terminated, "ends with the zero-size chunk");
  assert.ok(
    wire.chunkSizes.length > 1 && largest(wire.chunkSizes.map((n) => ({ length: n }))) <= 97,
  );
  assert.deepEqual(new Uint8Array(gunzipSync(wire.body)), expected);

  const files = server.requests.filter((r) => r.kind === "file");
  assert.deepEqual(
    files.map((r) => [r.status, r.headers["accept-encoding"]]),
    [[200, "identity"], [200, "gzip"], [200, "gzip"]],
  );
});

Deno.test("chunkBytes applies to every body; body-less replies and truncate keep Content-Length", async () => {
  await using server = await FakeFhirServer.start({ pollsUntilReady: 1, chunkBytes: 97 });
  for (const path of ["/metadata", "/Observation?_count=50", "/Patient/nope"]) {
    const res = await fetch(server.baseUrl + path, { headers: IDENTITY });
    assert.equal(res.headers.get("transfer-encoding"), "chunked", path);
    const chunks = await readChunks(res);
    assert.ok(largest(chunks) <= 97, `${path}: a read of ${largest(chunks)} bytes`);
    assert.ok(chunks.length > 1, path);
    const body = JSON.parse(new TextDecoder().decode(concatBytes(chunks)));
    assert.equal(
      body.resourceType,
      path === "/metadata"
        ? "CapabilityStatement"
        : path.includes("?")
        ? "Bundle"
        : "OperationOutcome",
    );
  }
  const token = await fetch(server.tokenUrl, { method: "POST", headers: IDENTITY });
  assert.equal(token.headers.get("transfer-encoding"), "chunked");
  assert.equal(token.status, 400);
  await token.body?.cancel();

  const statusUrl = await kickoff(`${server.baseUrl}/$export?_type=Patient`);
  const wire = await rawGet(statusUrl);
  assert.equal(wire.status, 202);
  assert.equal(wire.headers["content-length"], "0");
  assert.equal(wire.headers["transfer-encoding"], undefined);

  // reset: whole small chunks, then a chunk that never comes; the read fails after the bytes.
  server.addFault({ target: "search", fault: { kind: "reset", afterBytes: 500 } });
  const reset = await fetch(`${server.baseUrl}/Observation?_count=100`, { headers: IDENTITY });
  const reader = reset.body!.getReader();
  const sizes: number[] = [];
  await assert.rejects(async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      sizes.push(value.length);
    }
  });
  assert.equal(sizes.reduce((a, b) => a + b, 0), 500);
  assert.ok(Math.max(...sizes) <= 97);
  // truncate declares the full Content-Length, chunk cap or not.
  server.addFault({ target: "search", fault: { kind: "truncate", afterBytes: 500 } });
  const cut = await fetch(`${server.baseUrl}/Observation?_count=100`, { headers: IDENTITY });
  assert.ok(Number(cut.headers.get("content-length")) > 500);
  await assert.rejects(cut.arrayBuffer());
  assert.deepEqual(server.requests.slice(-2).map((r) => [r.kind, r.status]), [
    ["search", 200],
    ["search", 200],
  ]);
});

/** Starts cli.ts with extra environment variables; returns its URLs and the child. */
async function startCli(options: unknown, env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-lock",
      new URL("./cli.ts", import.meta.url).pathname,
      "--options-json",
      JSON.stringify(options),
    ],
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { done, value } = await lines.read();
    if (done) break;
    first += value;
  }
  lines.releaseLock();
  return { child, first };
}

async function stopCli(child: Deno.ChildProcess): Promise<string> {
  await child.stdin.close().catch(() => {}); // it may have exited already
  await child.status;
  await child.stdout.cancel().catch(() => {});
  return await new Response(child.stderr).text();
}

Deno.test("SMART_FETCH_FAKE_CHUNK_BYTES sets the default, except in synthetic mode", async () => {
  const env = { SMART_FETCH_FAKE_CHUNK_BYTES: "50" };
  const chunked = await startCli({ patients: 2 }, env);
  const synthetic = await startCli({
    pollsUntilReady: 0,
    synthetic: { type: "Observation", files: 1, bytesPerFile: 100_000 },
  }, env);
  const bad = await startCli({ patients: 2 }, { SMART_FETCH_FAKE_CHUNK_BYTES: "97k" });
  try {
    const { baseUrl } = JSON.parse(chunked.first);
    const res = await fetch(`${baseUrl}/metadata`, { headers: IDENTITY });
    assert.equal(res.headers.get("transfer-encoding"), "chunked");
    const chunks = await readChunks(res);
    assert.ok(largest(chunks) <= 50, `a read of ${largest(chunks)} bytes`);
    assert.equal(
      JSON.parse(new TextDecoder().decode(concatBytes(chunks))).resourceType,
      "CapabilityStatement",
    );

    const fast = JSON.parse(synthetic.first);
    const manifest = await exportManifest(`${fast.baseUrl}/$export`);
    const file = await fetch(manifest.output[0]!.url);
    assert.equal(Number(file.headers.get("content-length")), 98 * 1024, "not chunked");
    await file.body?.cancel();

    assert.equal(bad.first, "", "no server started");
    assert.notEqual((await bad.child.status).code, 0);
  } finally {
    await stopCli(chunked.child);
    await stopCli(synthetic.child);
    assert.match(
      await stopCli(bad.child),
      /SMART_FETCH_FAKE_CHUNK_BYTES must be a positive integer, got "97k"/,
    );
  }
});
