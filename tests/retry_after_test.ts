import assert from "node:assert/strict";
import { backoffDelay, parseRetryAfter } from "../src/http/retry_after.ts";

const NOW = Date.parse("2026-11-25T12:00:00Z");

Deno.test("Retry-After as delay-seconds", () => {
  assert.equal(parseRetryAfter("3", NOW), 3000);
  assert.equal(parseRetryAfter(" 120 ", NOW), 120_000);
  assert.equal(parseRetryAfter("0", NOW), 0);
  assert.equal(parseRetryAfter("1.5", NOW), 1500);
});

Deno.test("Retry-After as an HTTP-date", () => {
  assert.equal(parseRetryAfter("Wed, 25 Nov 2026 12:00:30 GMT", NOW), 30_000);
  // A date in the past means "now".
  assert.equal(parseRetryAfter("Wed, 25 Nov 2026 11:00:00 GMT", NOW), 0);
});

Deno.test("Retry-After as an absolute epoch number (seconds or ms) is read as a time, not a delay", () => {
  const inTenSeconds = Math.floor(NOW / 1000) + 10;
  assert.equal(parseRetryAfter(String(inTenSeconds), NOW), 10_000);
  assert.equal(parseRetryAfter(String(NOW + 5000), NOW), 5000);
  // The absurd value one server sends: years ahead. The caller caps it; we only read it right.
  assert.ok(parseRetryAfter("1893456000", NOW)! > 86_400_000);
});

Deno.test("Retry-After that cannot be read is ignored", () => {
  assert.equal(parseRetryAfter(null, NOW), undefined);
  assert.equal(parseRetryAfter("", NOW), undefined);
  assert.equal(parseRetryAfter("soon", NOW), undefined);
  assert.equal(parseRetryAfter("-5", NOW), undefined);
});

Deno.test("back-off doubles, stays within its upper half, and is capped", () => {
  assert.equal(backoffDelay(1, { baseMs: 1000, random: () => 0 }), 500);
  assert.equal(backoffDelay(1, { baseMs: 1000, random: () => 0.999999 }), 1000);
  assert.equal(backoffDelay(3, { baseMs: 1000, random: () => 1 }), 4000);
  assert.equal(backoffDelay(30, { baseMs: 1000, maxMs: 60_000, random: () => 1 }), 60_000);
});
