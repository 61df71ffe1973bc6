/**
 * Documents: DocumentReferences whose attachments point at Binary resources by relative URL
 * (`Binary/<id>`, as Epic does), and the Binaries holding their real bytes.
 *
 * @module
 */

import { DOCUMENT_TYPES } from "../codes.ts";
import { base64, documentBytes, type DocumentFormat } from "./binary_content.ts";
import { concept, day, instant, meta, ref } from "./common.ts";
import { after, type PatientContext, someEncounter } from "./patient.ts";

const FORMATS: DocumentFormat[] = ["text/plain", "text/html", "application/pdf"];
const SENTENCES = [
  "Patient seen for follow-up; feels well overall.",
  "Blood pressure reviewed, medication adjusted.",
  "Plan: continue current therapy, recheck in 3 months.",
  "Discussed diet and exercise; patient motivated.",
  "Café au lait spot noted on left forearm, unchanged.",
  "No fever, chills or night sweats reported.",
  "Labs ordered: CBC, CMP, lipid panel.",
];

/** An attachment as written into DocumentReference.content and DiagnosticReport.presentedForm. */
export interface Attachment {
  contentType: string;
  url?: string;
  data?: string;
  title: string;
  size?: number;
  creation: string;
}

/**
 * Adds a Binary with real bytes and returns the attachment pointing at it. With `inline`, the
 * attachment also carries `data` (already hydrated, as some servers send).
 */
export function binaryAttachment(
  ctx: PatientContext,
  id: string,
  format: DocumentFormat,
  title: string,
  whenMs: number,
  inline = false,
): Attachment {
  const lines = [`Date: ${day(whenMs)}`, ctx.rng.pick(SENTENCES), ctx.rng.pick(SENTENCES)];
  const bytes = documentBytes(format, title, lines);
  const data = base64(bytes);
  ctx.add({
    resourceType: "Binary",
    id,
    meta: meta(ctx.rng, whenMs),
    contentType: format,
    data,
  });
  return {
    contentType: format,
    url: `Binary/${id}`,
    title,
    creation: instant(whenMs),
    ...(inline ? { data, size: bytes.length } : {}),
  };
}

/** Generates 1–3 DocumentReferences with 1–2 attachments each. */
export function generateDocuments(ctx: PatientContext): void {
  const { rng, pid, num, shared } = ctx;
  for (let k = 1, n = rng.int(1, 3); k <= n; k++) {
    const enc = someEncounter(ctx);
    const when = after(ctx, enc.start, 2);
    const type = rng.pick(DOCUMENT_TYPES);
    const id = `doc-${num}-${k}`;
    const first = rng.pick(FORMATS);
    const formats = rng.chance(0.35)
      ? [first, first === "application/pdf" ? "text/html" : "application/pdf"]
      : [first];
    const content = formats.map((format, j) => ({
      attachment: binaryAttachment(
        ctx,
        `bin-${num}-d${k}${j + 1}`,
        format as DocumentFormat,
        type.display,
        when,
        format === "text/plain" && k === 2,
      ),
    }));
    ctx.add({
      resourceType: "DocumentReference",
      id,
      meta: meta(rng, when),
      status: "current",
      docStatus: "final",
      type: concept(type),
      category: [{
        coding: [{
          system: "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
          code: "clinical-note",
        }],
      }],
      subject: ref("Patient", pid),
      date: instant(when),
      author: [ref("Practitioner", rng.pick(shared.practitioners))],
      authenticator: ref("Practitioner", rng.pick(shared.practitioners)),
      custodian: ref("Organization", shared.organizations[0]!),
      content,
      context: {
        encounter: [ref("Encounter", enc.id)],
        period: { start: instant(enc.start) },
      },
    });
  }
}
