/**
 * Benchmark mode: big NDJSON files generated on the fly. Each line is a realistic ~1 KB
 * Observation with a unique id; lines come from a precomputed block of templates where only
 * the id and patient digits change, so a file streams at memory-copy speed and is never held
 * in memory.
 *
 * @module
 */

import { OBS_CATEGORIES, OBS_CATEGORY_SYSTEM, OBS_KINDS } from "./codes.ts";

/** Bytes per line, newline included: every line has exactly this length. */
export const LINE_BYTES = 1024;
const BLOCK_LINES = 256;
const FILE_DIGITS = 5;
const LINE_DIGITS = 10;
const PATIENT_DIGITS = 6;
const PATIENTS = 5000;

interface Template {
  block: Uint8Array;
  /** Offsets of the file number, line number and patient number digits of each line. */
  fileAt: number[];
  lineAt: number[];
  patientAt: number[];
}

const templates = new Map<string, Template>();
const encoder = new TextEncoder();

function templateLine(type: string, variant: number): string {
  const category = OBS_CATEGORIES[variant % 9]!;
  const kind = OBS_KINDS[category]!;
  const value = kind.text ? { valueString: kind.text[variant % kind.text.length] } : {
    valueQuantity: {
      value: 40 + variant * 7,
      unit: kind.unit,
      system: "http://unitsofmeasure.org",
      code: kind.unit,
    },
  };
  const day = String(1 + (variant % 28)).padStart(2, "0");
  const line = {
    resourceType: type,
    id: `syn-${"F".repeat(FILE_DIGITS)}-${"L".repeat(LINE_DIGITS)}`,
    meta: { lastUpdated: `2025-03-${day}T10:00:00Z` },
    status: "final",
    category: [{ coding: [{ system: OBS_CATEGORY_SYSTEM, code: category }] }],
    code: { coding: [kind.code], text: kind.code.display },
    subject: { reference: `Patient/syn-pat-${"P".repeat(PATIENT_DIGITS)}` },
    effectiveDateTime: `2025-03-${day}T09:00:00Z`,
    issued: `2025-03-${day}T10:00:00Z`,
    performer: [{ reference: `Practitioner/prac-00${1 + (variant % 9)}` }],
    ...value,
    note: [{ text: "" }],
  };
  const bare = JSON.stringify(line);
  const pad = LINE_BYTES - 1 - encoder.encode(bare).length;
  if (pad < 0) throw new Error("synthetic template line is longer than LINE_BYTES");
  line.note[0]!.text = "Synthetic benchmark observation. ".repeat(40).slice(0, pad);
  const text = JSON.stringify(line);
  if (encoder.encode(text).length !== LINE_BYTES - 1) throw new Error("bad synthetic line length");
  return text;
}

function template(type: string): Template {
  const cached = templates.get(type);
  if (cached) return cached;
  const lines = Array.from({ length: 16 }, (_, v) => templateLine(type, v));
  const block = new Uint8Array(BLOCK_LINES * LINE_BYTES);
  const result: Template = { block, fileAt: [], lineAt: [], patientAt: [] };
  for (let i = 0; i < BLOCK_LINES; i++) {
    const text = lines[i % lines.length]!;
    const start = i * LINE_BYTES;
    block.set(encoder.encode(text + "\n"), start);
    result.fileAt.push(start + text.indexOf("F".repeat(FILE_DIGITS)));
    result.lineAt.push(start + text.indexOf("L".repeat(LINE_DIGITS)));
    result.patientAt.push(start + text.indexOf("P".repeat(PATIENT_DIGITS)));
  }
  templates.set(type, result);
  return result;
}

function writeDigits(buf: Uint8Array, offset: number, value: number, width: number): void {
  for (let i = width - 1; i >= 0; i--) {
    buf[offset + i] = 48 + (value % 10);
    value = Math.floor(value / 10);
  }
}

/** Lines in a synthetic file of about `bytesPerFile` bytes (whole lines, at least one). */
export function syntheticLineCount(bytesPerFile: number): number {
  return Math.max(1, Math.ceil(bytesPerFile / LINE_BYTES));
}

/** A stream of one synthetic file: `lines` lines, `lines * LINE_BYTES` bytes. */
export function syntheticStream(
  type: string,
  fileIndex: number,
  lines: number,
): ReadableStream<Uint8Array<ArrayBuffer>> {
  const { block, fileAt, lineAt, patientAt } = template(type);
  const fileBlock = block.slice();
  for (const at of fileAt) writeDigits(fileBlock, at, fileIndex, FILE_DIGITS);
  let next = 0;
  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      if (next >= lines) {
        controller.close();
        return;
      }
      const n = Math.min(BLOCK_LINES, lines - next);
      const chunk = fileBlock.slice(0, n * LINE_BYTES);
      for (let i = 0; i < n; i++) {
        const line = next + i + 1;
        writeDigits(chunk, lineAt[i]!, line, LINE_DIGITS);
        writeDigits(chunk, patientAt[i]!, (line * 7919) % PATIENTS, PATIENT_DIGITS);
      }
      next += n;
      controller.enqueue(chunk);
    },
  });
}
