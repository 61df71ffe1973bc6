/** The streaming checks of an export file, fed in every chunk size (a line spans many reads). */

import assert from "node:assert/strict";
import { IncompleteFileError, MislabeledFileError, NdjsonCheck } from "../src/bulk/ndjson_check.ts";

const SIZES = [1, 2, 3, 7, 16, 97, 1000, 1 << 20];

/** Feeds `text` in chunks of `size` through one reused buffer, as the download loop does. */
function feed(text: string, size: number, type = "Patient", count?: number) {
  const bytes = new TextEncoder().encode(text);
  const check = new NdjsonCheck({ what: "The file F", type, count });
  const buffer = new Uint8Array(size);
  for (let at = 0; at < bytes.length; at += size) {
    const part = bytes.subarray(at, at + size);
    buffer.set(part);
    check.add(buffer.subarray(0, part.length));
    // The buffer is reused: anything the check kept must have been copied.
    buffer.fill(0x7a);
  }
  const tail = check.finish();
  return { resources: check.resources, bytes: check.bytes, tail };
}

const long = "x".repeat(5000);
const rows = [
  `{"resourceType":"Patient","id":"a"}`,
  `{"id":"b","resourceType":"Patient","note":"${long}"}`,
  `  { "meta" : {"tag":[{"code":"}{\\""}]}, "resourceType" : "Patient", "id":"c"}`,
  `{"resourceType":"Patient","id":"d","text":"${long}"}`,
];

Deno.test("counts resources and accepts every row of the right type, whatever the chunk size", () => {
  for (const size of SIZES) {
    const plain = feed(rows.join("\n") + "\n", size, "Patient", 4);
    assert.equal(plain.resources, 4, `size ${size}`);
    assert.equal(plain.tail, undefined);
    // Blank lines, CR LF and no final newline.
    const messy = feed(`\n${rows[0]}\r\n\n  \n${rows.slice(1).join("\r\n")}`, size, "Patient", 4);
    assert.equal(messy.resources, 4, `size ${size}`);
    assert.deepEqual(messy.tail, new Uint8Array([0x0a]), "a final newline is added");
    assert.equal(feed("", size, "Patient", 0).resources, 0);
    assert.equal(feed("\n\n", size, "Patient").resources, 0);
  }
});

Deno.test("a body cut mid-line is incomplete, whatever the chunk size", () => {
  const text = rows.join("\n") + "\n";
  for (const size of SIZES) {
    for (const cut of [10, text.length - 3, rows[0]!.length + 200]) {
      assert.throws(
        () => feed(text.slice(0, cut), size),
        (err) => err instanceof IncompleteFileError && /cut short/.test(err.message),
        `size ${size}, cut ${cut}`,
      );
    }
  }
});

Deno.test("a body cut at a line end is caught by the manifest count", () => {
  const text = rows.slice(0, 2).join("\n") + "\n";
  for (const size of SIZES) {
    assert.throws(
      () => feed(text, size, "Patient", 4),
      (err) =>
        err instanceof IncompleteFileError &&
        err.message === "The file F holds 2 resources, but the manifest says 4",
    );
    assert.equal(feed(text, size, "Patient").resources, 2, "no count: the last line decides");
  }
});

Deno.test("a row of another type is a mislabeled file, naming both types and the line", () => {
  const text = `${rows[0]}\n{"id":"x","resourceType":"Condition"}\n`;
  for (const size of SIZES) {
    assert.throws(
      () => feed(text, size),
      (err) =>
        err instanceof MislabeledFileError && err.found === "Condition" &&
        /listed as Patient but line 2 holds a Condition/.test(err.message),
      `size ${size}`,
    );
    assert.throws(
      () => feed(`{"resourceType":"Observation","id":"1"}\n`, size),
      MislabeledFileError,
    );
  }
});

Deno.test("lines that are not FHIR resources are refused", () => {
  for (const size of SIZES) {
    for (const bad of ["<html><body>Login</body></html>\n", `{"id":"1"}\n`, `[1,2]\n`, `"x"\n`]) {
      assert.throws(() => feed(bad, size), IncompleteFileError, `${size}: ${bad}`);
    }
  }
});
