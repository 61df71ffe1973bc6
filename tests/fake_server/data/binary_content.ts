/**
 * Real document bytes for Binary resources: UTF-8 text notes, HTML and a valid one-page PDF.
 *
 * @module
 */

import { Buffer } from "node:buffer";

const encoder = new TextEncoder();

/** The three attachment formats the generators use. */
export type DocumentFormat = "text/plain" | "text/html" | "application/pdf";

/** Bytes of a note in the given format; `lines` is the note's text. */
export function documentBytes(format: DocumentFormat, title: string, lines: string[]): Uint8Array {
  switch (format) {
    case "text/plain":
      return encoder.encode(`${title}\n\n${lines.join("\n")}\n`);
    case "text/html":
      return encoder.encode(
        `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
          `</head><body><h1>${escapeHtml(title)}</h1>` +
          lines.map((line) => `<p>${escapeHtml(line)}</p>`).join("") + `</body></html>\n`,
      );
    case "application/pdf":
      return pdf([title, ...lines]);
  }
}

/** Base64 of bytes (FHIR `data`). */
export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** A minimal valid PDF 1.4 with one page of Helvetica text and a correct xref table. */
function pdf(lines: string[]): Uint8Array {
  const ascii = lines.map((line) =>
    line.normalize("NFD").replace(/[^\x20-\x7e]/g, "").replace(/[()\\]/g, "\\$&")
  );
  const stream = "BT /F1 12 Tf 72 720 Td 14 TL " +
    ascii.map((line) => `(${line}) Tj T*`).join(" ") + " ET";
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R " +
    "/Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return encoder.encode(out);
}
