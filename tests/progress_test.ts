/** The progress display: the event fold, plain lines for log files, the live terminal block. */

import assert from "node:assert/strict";
import { FakeClock } from "../src/clock.ts";
import { Rate } from "../src/log/crawl_progress.ts";
import type { ProgressEvent, Reporter } from "../src/log/events.ts";
import { PlainReporter } from "../src/log/progress_plain.ts";
import { ProgressState } from "../src/log/progress_state.ts";
import { TtyReporter } from "../src/log/progress_tty.ts";
import { createReporter, SilentReporter } from "../src/log/reporter.ts";
import { localDateTime } from "../src/log/time_format.ts";

const MB = 1024 * 1024;
const STAMP = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /;
// deno-lint-ignore no-control-regex
const ANSI = /\x1b/;

/** A clock at a fixed time, so every test sees the same timestamps. */
function fakeClock(): FakeClock {
  return new FakeClock(() => Date.UTC(2026, 10, 25, 10, 0, 0));
}

/** Collects what a reporter writes. */
function sink(): { write: (text: string) => void; text: () => string; chunks: string[] } {
  const chunks: string[] = [];
  return { write: (t) => chunks.push(t), text: () => chunks.join(""), chunks };
}

/** Hooks to run at points of the scenario (status ticks). */
interface Hooks {
  whileWaiting?: () => void;
  whileDownloading?: () => void;
  whileFinishing?: () => void;
}

/**
 * A whole bulk export: kick-off, two polls with X-Progress, 5 files planned (1 already here),
 * downloads of Condition and Patient with progress, a retry, a warning, a verbose message.
 */
function runExport(reporter: Reporter, clock: FakeClock, hooks: Hooks = {}): void {
  const emit = (event: ProgressEvent, advanceMs = 0) => {
    clock.advance(advanceMs);
    reporter.emit(event);
  };
  const started = clock.now();
  emit({ type: "phase", phase: "kickoff", detail: "Patient, Condition" });
  emit({ type: "message", level: "verbose", text: "kick-off answered 202" }, 500);
  emit({ type: "phase", phase: "waiting" }, 500);
  emit({ type: "waiting", startedMs: started, xProgress: "10% complete", nextPollMs: 60_000 });
  emit(
    { type: "waiting", startedMs: started, xProgress: "50% complete", nextPollMs: 60_000 },
    60_000,
  );
  clock.advance(15_000);
  hooks.whileWaiting?.();
  emit({ type: "phase", phase: "downloading" }, 45_000);
  emit({ type: "files-planned", total: 5, alreadyDone: 1 });
  const start = (name: string) =>
    emit({ type: "file-start", name: `${name}.ndjson.gz`, resourceType: name.split(".")[0]! });
  const bytes = (name: string, n: number) =>
    emit({ type: "file-bytes", name: `${name}.ndjson.gz`, bytes: n }, 1_000);
  const done = (name: string, resources: number, bytes: number, advanceMs = 1_000) =>
    emit({
      type: "file-done",
      name: `${name}.ndjson.gz`,
      resourceType: name.split(".")[0]!,
      resources,
      bytes,
      diskBytes: Math.round(bytes / 8),
    }, advanceMs);
  start("Condition.001");
  start("Patient.001");
  bytes("Condition.001", 4 * MB);
  bytes("Condition.001", 8 * MB);
  done("Patient.001", 1_000, 2 * MB, 0);
  const reason = "HTTP 503";
  emit({ type: "retry", what: "GET Condition.002.ndjson.gz", attempt: 2, delayMs: 4_000, reason });
  done("Condition.001", 4_000, 10 * MB);
  start("Condition.002");
  bytes("Condition.002", 4 * MB);
  emit({ type: "message", level: "warn", text: "Server said: 3 resources were skipped" });
  hooks.whileDownloading?.();
  done("Condition.002", 120_000, 1_000 * MB);
  start("Observation.001");
  done("Observation.001", 456, 300_000);
  emit({ type: "phase", phase: "finishing" });
  hooks.whileFinishing?.();
  emit({ type: "message", level: "info", text: "Wrote 4 files to /data/export" }, 1_000);
  emit({ type: "phase", phase: "done" });
}

Deno.test("ProgressState folds files, bytes, retries and waiting", () => {
  const clock = fakeClock();
  const state = new ProgressState(clock);
  const seen: ProgressState[] = [];
  runExport({ emit: (e) => state.apply(e), close: () => {} }, clock, {
    whileWaiting: () => {
      assert.equal(state.phase, "waiting");
      assert.equal(state.waiting?.xProgress, "50% complete");
      assert.equal(state.nextPollInMs(), 45_000);
      seen.push(state);
    },
    whileDownloading: () => {
      assert.equal(state.filesDone, 3); // 1 already here + 2 downloaded
      assert.equal(state.inProgress.size, 1);
      assert.equal(state.inProgress.get("Condition.002.ndjson.gz")?.bytes, 4 * MB);
      assert.equal(state.receivedBytes, 16 * MB);
      // 16 MB arrived in the 4 s since the first file-start.
      assert.equal(state.throughput(), 4 * MB);
      assert.equal(state.retries, 1);
      assert.equal(state.lastRetryReason, "HTTP 503");
      seen.push(state);
    },
  });
  assert.equal(seen.length, 2);
  assert.equal(state.phase, "done");
  assert.equal(state.inProgress.size, 0);
  assert.equal(state.filesDone, 5);
  assert.deepEqual(Object.fromEntries(state.byType), {
    Patient: { files: 1, resources: 1_000, bytes: 2 * MB },
    Condition: { files: 2, resources: 124_000, bytes: 1_010 * MB },
    Observation: { files: 1, resources: 456, bytes: 300_000 },
  });
  assert.equal(state.totals.resources, 125_456);
});

Deno.test("ProgressState throughput uses the last 10 s and survives restarted downloads", () => {
  const clock = fakeClock();
  const state = new ProgressState(clock);
  state.apply({ type: "file-start", name: "a", resourceType: "Patient" });
  for (let i = 1; i <= 30; i++) {
    clock.advance(1_000);
    state.apply({ type: "file-bytes", name: "a", bytes: i * MB });
  }
  assert.equal(state.throughput(), MB);
  // A retry restarts the file from zero: the new bytes count, nothing goes negative.
  clock.advance(1_000);
  state.apply({ type: "file-bytes", name: "a", bytes: 2 * MB });
  assert.ok(state.throughput() > MB);
  assert.equal(state.receivedBytes, 2 * MB);
  clock.advance(5_000);
  assert.ok(state.throughput() > 0);
  clock.advance(11_000);
  assert.equal(state.throughput(), 0);
});

Deno.test("PlainReporter prints timestamped milestones, status lines and no ANSI", () => {
  const clock = fakeClock();
  const out = sink();
  const reporter = new PlainReporter({ write: out.write, clock, intervalMs: 60_000 });
  runExport(reporter, clock, {
    whileWaiting: () => reporter.tick(),
    whileDownloading: () => reporter.tick(),
    whileFinishing: () => reporter.tick(), // no status line outside waiting/downloading
  });
  const before = out.text();
  reporter.close();
  assert.equal(out.text(), before, "close() prints nothing");

  assert.doesNotMatch(out.text(), ANSI);
  const lines = out.text().trimEnd().split("\n");
  for (const line of lines) assert.match(line, STAMP);
  assert.deepEqual(lines.map((line) => line.replace(STAMP, "")), [
    "Kicking off a bulk export of Patient, Condition",
    "Waiting for the server to prepare the export",
    'Still waiting for the export: 1m 16s so far; server says "50% complete"; next check in 45s',
    "Downloading 5 files (1 already here)",
    "Retry 2 in 4s: GET Condition.002.ndjson.gz: HTTP 503",
    "warning: Server said: 3 resources were skipped",
    "Downloaded 3 of 5 files, 16.0 MB, 5,000 resources; 1 in progress; 4.00 MB/s; 1 retry",
    "Finishing",
    "Wrote 4 files to /data/export",
    "Done in 2m 08s: downloaded 4 files, 1012 MB, 125,456 resources",
  ]);
});

Deno.test("PlainReporter shows verbose messages and per-file lines only when verbose", () => {
  const quiet = sink();
  const loud = sink();
  for (const [out, verbose] of [[quiet, false], [loud, true]] as const) {
    const clock = fakeClock();
    const reporter = new PlainReporter({ write: out.write, clock, verbose });
    runExport(reporter, clock);
    reporter.close();
  }
  assert.doesNotMatch(quiet.text(), /kick-off answered 202|Downloaded Condition/);
  assert.match(loud.text(), STAMP);
  assert.match(loud.text(), /\] kick-off answered 202\n/);
  assert.match(
    loud.text(),
    /\] Downloaded Condition\.001\.ndjson\.gz \(10\.0 MB, 4,000 resources\)\n/,
  );
  assert.match(
    loud.text(),
    /\] Downloaded Condition\.002\.ndjson\.gz \(1000 MB, 120,000 resources\)\n/,
  );
});

Deno.test("PlainReporter strips control codes a server sent and timestamps each line", () => {
  const clock = fakeClock();
  const out = sink();
  const reporter = new PlainReporter({ write: out.write, clock });
  reporter.emit({ type: "phase", phase: "waiting" });
  reporter.emit({
    type: "waiting",
    startedMs: clock.now(),
    xProgress: "\x1b[31mred\x1b[0m",
    nextPollMs: 0,
  });
  reporter.emit({ type: "message", level: "warn", text: "first\r\nsecond" });
  reporter.tick();
  reporter.close();
  assert.doesNotMatch(out.text(), ANSI);
  const lines = out.text().trimEnd().split("\n");
  for (const line of lines) assert.match(line, STAMP);
  assert.match(lines[1]!, /warning: first$/);
  assert.match(lines[2]!, /\] second$/);
  assert.match(lines[3]!, /server says "red"; checking now$/);
});

Deno.test("PlainReporter's timer prints status lines only while waiting or downloading", async () => {
  const clock = fakeClock();
  const out = sink();
  const reporter = new PlainReporter({ write: out.write, clock, intervalMs: 10 });
  reporter.emit({ type: "phase", phase: "kickoff" });
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.doesNotMatch(out.text(), /Still waiting/);
  reporter.emit({ type: "phase", phase: "waiting" });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.match(out.text(), /Still waiting for the export: 0s so far\n/);
  reporter.emit({ type: "phase", phase: "finishing" });
  const stopped = out.text();
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(out.text(), stopped);
  reporter.close(); // the sanitizer fails the test if a timer is left
});

/**
 * A minimal terminal: enough of the ANSI subset the TTY reporter uses to show what a person
 * would see (the scrollback and the screen, as one list of lines).
 */
function screen(output: string): { lines: string[]; cursorVisible: boolean } {
  const lines: string[] = [""];
  let row = 0;
  let col = 0;
  let cursorVisible = true;
  // deno-lint-ignore no-control-regex
  const tokens = output.match(/\x1b\[\??[0-9;]*[A-Za-z]|[\s\S]/gu) ?? [];
  for (const token of tokens) {
    // deno-lint-ignore no-control-regex
    const csi = token.match(/^\x1b\[(\??)(\d*)([A-Za-z])$/);
    if (csi) {
      const [, priv, num, op] = csi;
      if (priv && num === "25") cursorVisible = op === "h";
      else if (op === "A") row = Math.max(0, row - Number(num || 1));
      else if (op === "K") lines[row] = "";
      else if (op === "J") {
        lines.length = row + 1;
        lines[row] = lines[row]!.slice(0, col);
      } else assert.equal(op, "m", `unexpected escape ${JSON.stringify(token)}`);
      continue;
    }
    if (token === "\r") col = 0;
    else if (token === "\n") {
      row++;
      col = 0;
      lines[row] ??= "";
    } else {
      const line = Array.from(lines[row] ?? "");
      line[col++] = token;
      lines[row] = line.join("");
    }
  }
  if (lines.at(-1) === "") lines.pop();
  return { lines, cursorVisible };
}

Deno.test("TtyReporter redraws a block in place and prints messages above it", () => {
  const clock = fakeClock();
  const out = sink();
  const reporter = new TtyReporter({ write: out.write, clock, intervalMs: 60_000, columns: 80 });
  let waitingScreen: string[] = [];
  let downloadingScreen: string[] = [];
  runExport(reporter, clock, {
    whileWaiting: () => {
      reporter.tick();
      waitingScreen = screen(out.text()).lines;
    },
    whileDownloading: () => {
      reporter.tick();
      downloadingScreen = screen(out.text()).lines;
    },
  });
  assert.ok(out.text().startsWith("\x1b[?25l"), "hides the cursor");
  assert.ok(out.text().includes("\x1b[2A"), "moves up over the 2-line waiting block");
  assert.ok(out.text().includes("\x1b[2K"), "clears lines");
  assert.equal(screen(out.text()).cursorVisible, false);

  assert.deepEqual(waitingScreen, [
    "✔ Kicking off a bulk export of Patient, Condition · 1s",
    "⠙ Waiting for the server to prepare the export",
    '  1m 16s so far · server says "50% complete" · next check in 45s',
  ]);
  assert.deepEqual(downloadingScreen, [
    "✔ Kicking off a bulk export of Patient, Condition · 1s",
    "✔ Waiting for the server to prepare the export · 2m 00s",
    "Retry 2 in 4s: GET Condition.002.ndjson.gz: HTTP 503",
    "warning: Server said: 3 resources were skipped",
    "⠹ Downloading 5 files (1 already here) · 4s",
    "  ██████████████░░░░░░░░░░ 3/5 files · 16.0 MB · 4.00 MB/s · 1 retry",
    "  Patient        1 file         1,000 resources   2.00 MB",
    "  Condition      1 file         4,000 resources   10.0 MB",
    "  In progress: Condition.002.ndjson.gz 4.00 MB",
  ]);

  reporter.close();
  const final = screen(out.text());
  assert.equal(final.cursorVisible, true);
  assert.deepEqual(final.lines.slice(4), [
    "✔ Downloading 5 files (1 already here) · 6s",
    "Wrote 4 files to /data/export",
    "✔ Finishing · 1s",
    "✔ Done in 2m 08s: downloaded 4 files, 1012 MB, 125,456 resources",
    "  Patient          1 file         1,000 resources   2.00 MB",
    "  Condition        2 files      124,000 resources   1010 MB",
    "  Observation      1 file           456 resources    293 KB",
  ]);
  assert.ok(out.text().endsWith("\x1b[?25h"));
  const after = out.text();
  reporter.close();
  assert.equal(out.text(), after, "a second close() does nothing");
});

Deno.test("TtyReporter cuts lines to the width, hides verbose text, and colours warnings", () => {
  const clock = fakeClock();
  const out = sink();
  const reporter = new TtyReporter({ write: out.write, clock, columns: 40 });
  reporter.emit({
    type: "phase",
    phase: "kickoff",
    detail: "Patient, Condition, Observation, Encounter",
  });
  reporter.emit({ type: "message", level: "verbose", text: "hidden detail" });
  reporter.emit({ type: "message", level: "warn", text: "\x1b[2Jcareful" });
  reporter.close();
  assert.ok(!out.text().includes("hidden detail"));
  assert.ok(!out.text().includes("\x1b[2J"), "a server's escape codes are dropped");
  assert.ok(out.text().includes("\x1b[33mwarning\x1b[0m: careful\n"));
  const { lines } = screen(out.text());
  assert.deepEqual(lines, ["warning: careful", "• Kicking off a bulk export of Patient…"]);
  for (const line of lines) assert.ok(Array.from(line).length < 40);
});

Deno.test("TtyReporter's timer redraws until close()", async () => {
  const clock = fakeClock();
  const out = sink();
  const reporter = new TtyReporter({ write: out.write, clock, intervalMs: 5 });
  reporter.emit({ type: "phase", phase: "waiting" });
  const first = out.chunks.length;
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.ok(out.chunks.length > first, "the spinner moved");
  reporter.close();
  const closed = out.chunks.length;
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(out.chunks.length, closed);
});

Deno.test("createReporter picks the renderer; SilentReporter records events", () => {
  const clock = fakeClock();
  const out = sink();
  const plain = createReporter({ isTty: false, verbose: false, write: out.write, clock });
  const tty = createReporter({ isTty: true, verbose: true, write: out.write, clock, columns: 60 });
  assert.ok(plain instanceof PlainReporter);
  assert.ok(tty instanceof TtyReporter);
  plain.close();
  tty.close();
  assert.equal(out.text(), "", "nothing printed without events");

  const silent = new SilentReporter();
  runExport(silent, clock);
  silent.close();
  assert.equal(silent.closed, true);
  assert.equal(silent.events.filter((e) => e.type === "file-done").length, 4);
  assert.deepEqual(silent.events[0], {
    type: "phase",
    phase: "kickoff",
    detail: "Patient, Condition",
  });
});

Deno.test("a server gone for over a minute is named in the status lines; a wait never reads 0s", () => {
  const clock = fakeClock();
  const out = sink();
  const reporter = new PlainReporter({ write: out.write, clock, intervalMs: 3_600_000 });
  const started = clock.now();
  reporter.emit({ type: "phase", phase: "waiting" });
  reporter.emit({ type: "waiting", startedMs: started, xProgress: null, nextPollMs: 30_400 });
  clock.advance(30_000);
  reporter.tick(); // 400 ms left: rounded up, never "0s"
  clock.advance(400);
  reporter.tick(); // due
  // The poll fails for over a minute: the client reports the server unreachable.
  clock.advance(90_000);
  reporter.emit({ type: "unreachable", sinceMs: started + 30_400, retries: 16 });
  reporter.tick();
  reporter.emit({ type: "reachable" });
  reporter.tick();
  reporter.emit({ type: "phase", phase: "kickoff" });
  reporter.emit({ type: "unreachable", sinceMs: started + 30_400, retries: 17 });
  reporter.tick(); // outside waiting/downloading too
  reporter.close();
  const lines = out.text().trimEnd().split("\n").map((l) => l.replace(STAMP, ""));
  const since = localDateTime(started + 30_400).slice(11);
  assert.deepEqual(lines, [
    "Waiting for the server to prepare the export",
    "Still waiting for the export: 30s so far; next check in 1s",
    "Still waiting for the export: 30s so far; checking now",
    `Still waiting for the export: 2m 00s so far; server unreachable since ${since} (16 retries)`,
    "Still waiting for the export: 2m 00s so far; checking now",
    "Kicking off a bulk export",
    `Still trying: server unreachable since ${since} (17 retries)`,
  ]);
});

Deno.test("a crawl's plain line: patients done of total, requests/s, resources/s, failures, ETA; bars per type", () => {
  const clock = fakeClock();
  const out = sink();
  const reporter = new PlainReporter({ write: out.write, clock, intervalMs: 3_600_000 });
  reporter.emit({ type: "phase", phase: "crawling", detail: "Condition, Observation" });
  reporter.emit({
    type: "crawl-planned",
    types: [
      { resourceType: "Condition", total: 1000, done: 200 },
      { resourceType: "Observation", total: 1000, done: 100 },
    ],
  });
  // 20 s: 400 pages with 10 resources each, 300 patients done per type, 2 failed searches.
  for (let i = 0; i < 400; i++) {
    clock.advance(50);
    reporter.emit({ type: "crawl-page", resourceType: "Observation", resources: 10 });
    if (i < 300) {
      for (const t of ["Condition", "Observation"]) {
        reporter.emit({ type: "crawl-unit", resourceType: t, resources: 5, failed: false });
      }
    }
  }
  reporter.emit({ type: "crawl-unit", resourceType: "Observation", resources: 0, failed: true });
  reporter.emit({ type: "crawl-unit", resourceType: "Observation", resources: 0, failed: true });
  reporter.tick();
  reporter.close();
  const lines = out.text().trimEnd().split("\n").map((l) => l.replace(STAMP, ""));
  // Condition 500/1000, Observation 400/1000: 450 patients on average.
  assert.deepEqual(lines, [
    "Crawling Condition, Observation",
    "Crawled 450 of 1,000 patients (45%); 20.0 requests/s; 200 resources/s; 2 failed searches; ETA 36s",
  ]);
  const bars = reporter.state.crawl.barLines(10);
  assert.deepEqual(bars, [
    "  Condition   █████░░░░░ 500/1,000 patients · 0 resources",
    "  Observation ████░░░░░░ 400/1,000 patients · 4,000 resources · 2 failed",
  ]);
});

Deno.test("a rate holds a sample per second of its window, not one per event", () => {
  const rate = new Rate();
  // 5,000 events a second for two minutes, as a fast crawl sends.
  const start = 1_767_225_600_000;
  for (let i = 0; i < 600_000; i++) rate.add(start + i / 5, 1);
  const now = start + 120_000;
  assert.ok(rate.samples <= 33, `${rate.samples} samples`);
  assert.ok(Math.abs(rate.perSecond(now) - 5000) < 200, `${rate.perSecond(now)}/s`);
  // Quiet for a while: the rate falls as the window moves on.
  rate.add(now + 15_000, 1);
  assert.ok(rate.perSecond(now + 15_000) < 2700, `${rate.perSecond(now + 15_000)}/s`);
});
