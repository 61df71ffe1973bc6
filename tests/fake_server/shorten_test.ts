/** The `shorten` fault: a file body that ends early but cleanly (a proxy that stops). */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { gunzipSync } from "node:zlib";
import { FakeFhirServer } from "./mod.ts";
import { exportManifest } from "./test_helpers.ts";
import { rawGet } from "./wire_helpers.ts";

const decoder = new TextDecoder();

/** What a shortened file must hold: the byte prefix, cut back to a line end when asked. */
function prefixOf(full: Uint8Array, afterBytes: number, atLineEnd: boolean): string {
  const part = full.subarray(0, afterBytes);
  return decoder.decode(atLineEnd ? part.subarray(0, part.lastIndexOf(10) + 1) : part);
}

Deno.test("shorten: a valid 200 with only the first bytes (or whole lines), gzip or not", async () => {
  // chunkBytes Infinity: Content-Length framing even when the suite runs with a chunk cap.
  const options = { pollsUntilReady: 0, resourcesPerFile: 1000, chunkBytes: Infinity };
  await using server = await FakeFhirServer.start(options);
  const manifest = await exportManifest(`${server.baseUrl}/$export?_type=Observation`);
  const url = manifest.output[0]!.url;
  const full = new Uint8Array(
    await (await fetch(url, { headers: { "accept-encoding": "identity" } })).arrayBuffer(),
  );
  for (const atLineEnd of [false, true]) {
    const expected = prefixOf(full, 1000, atLineEnd);
    assert.equal(expected.endsWith("\n"), atLineEnd, "1000 bytes end inside a line");
    for (const encoding of ["identity", "gzip"]) {
      server.addFault({ target: "file", fault: { kind: "shorten", afterBytes: 1000, atLineEnd } });
      const wire = await rawGet(url, { "accept-encoding": encoding });
      assert.equal(wire.status, 200);
      assert.equal(wire.headers["content-type"], "application/fhir+ndjson");
      assert.equal(Number(wire.headers["content-length"]), wire.body.length, "framed");
      const body = encoding === "gzip" ? gunzipSync(wire.body) : wire.body;
      assert.equal(wire.headers["content-encoding"], encoding === "gzip" ? "gzip" : undefined);
      assert.equal(decoder.decode(body), expected, `${encoding} atLineEnd=${atLineEnd}`);

      server.addFault({ target: "file", fault: { kind: "shorten", afterBytes: 1000, atLineEnd } });
      const res = await fetch(url, { headers: { "accept-encoding": encoding } });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), expected, "fetch reads it without an error");
      assert.deepEqual(
        server.requests.slice(-2).map((r) => [r.kind, r.status]),
        [["file", 200], ["file", 200]],
      );
    }
  }
  const lines = prefixOf(full, 1000, true).split("\n").filter(Boolean);
  assert.ok(lines.length > 0 && lines.length < manifest.output[0]!.count);
  for (const line of lines) JSON.parse(line);
  // The next download is whole again, and a limit beyond the end changes nothing.
  server.addFault({ target: "file", fault: { kind: "shorten", afterBytes: full.length + 5 } });
  assert.equal(await (await fetch(url)).text(), decoder.decode(full));
  assert.equal(await (await fetch(url)).text(), decoder.decode(full));
  // Other requests use the fault up but are answered in full.
  server.addFault({ target: "any", fault: { kind: "shorten", afterBytes: 10 } });
  const bundle = await (await fetch(`${server.baseUrl}/Patient?_count=3`)).json();
  assert.equal(bundle.entry.length, 3);
  assert.equal(await (await fetch(url)).text(), decoder.decode(full));
});

Deno.test("shorten with a chunk cap: chunked, properly terminated", async () => {
  await using server = await FakeFhirServer.start({
    pollsUntilReady: 0,
    resourcesPerFile: 1000,
    chunkBytes: 97,
  });
  const url = (await exportManifest(`${server.baseUrl}/$export?_type=Observation`)).output[0]!.url;
  const full = new Uint8Array(await (await fetch(url)).arrayBuffer());
  for (const encoding of ["identity", "gzip"]) {
    server.addFault({ target: "file", fault: { kind: "shorten", afterBytes: 1000 } });
    const wire = await rawGet(url, { "accept-encoding": encoding });
    assert.equal(wire.headers["transfer-encoding"], "chunked");
    assert.ok(wire.terminated, "the zero-size last chunk is there");
    assert.ok(Math.max(...wire.chunkSizes) <= 97);
    const body = encoding === "gzip" ? gunzipSync(wire.body) : wire.body;
    assert.equal(decoder.decode(body), prefixOf(full, 1000, false));
  }
});

Deno.test("shorten in the Binary personality: the Binary holds the shortened NDJSON", async () => {
  const options = { pollsUntilReady: 0, resourcesPerFile: 1000 };
  await using plain = await FakeFhirServer.start(options);
  const plainUrl = (await exportManifest(`${plain.baseUrl}/$export?_type=Condition`)).output[0]!
    .url;
  const full = new Uint8Array(await (await fetch(plainUrl)).arrayBuffer());
  for (const filesAsBinary of ["json", "xml"] as const) {
    await using server = await FakeFhirServer.start({
      ...options,
      filesAsBinary,
      binaryGzipContent: filesAsBinary === "xml",
    });
    const url = (await exportManifest(`${server.baseUrl}/$export?_type=Condition`)).output[0]!
      .url;
    for (const encoding of ["identity", "gzip"]) {
      server.addFault({
        target: "file",
        fault: { kind: "shorten", afterBytes: 700, atLineEnd: true },
      });
      const res = await fetch(url, { headers: { "accept-encoding": encoding } });
      assert.equal(res.status, 200);
      const text = await res.text();
      const base64 = filesAsBinary === "json"
        ? JSON.parse(text).data
        : /<data value="([^"]*)"\/>/.exec(text)![1]!;
      const data = Buffer.from(base64, "base64");
      const ndjson = filesAsBinary === "xml" ? gunzipSync(data) : data;
      assert.equal(
        decoder.decode(ndjson),
        prefixOf(full, 700, true),
        `${filesAsBinary} ${encoding}`,
      );
      assert.equal(server.requests.at(-1)!.kind, "file");
    }
  }
});

Deno.test("shorten streams synthetic files: an exact prefix or whole 1 KB lines", async () => {
  await using server = await FakeFhirServer.start({
    pollsUntilReady: 0,
    synthetic: { type: "Observation", files: 1, bytesPerFile: 600_000 },
  });
  const url = (await exportManifest(`${server.baseUrl}/$export`)).output[0]!.url;
  const full = new Uint8Array(await (await fetch(url)).arrayBuffer());
  for (const atLineEnd of [false, true]) {
    server.addFault({ target: "file", fault: { kind: "shorten", afterBytes: 300_500, atLineEnd } });
    const text = await (await fetch(url)).text();
    assert.equal(text.length, atLineEnd ? 293 * 1024 : 300_500);
    assert.equal(text, prefixOf(full, 300_500, atLineEnd));
  }
});
