/** Reading OperationOutcomes: their text and whether they report an error. */

/** One issue of an OperationOutcome, as far as we read it. */
interface Issue {
  severity?: unknown;
  code?: unknown;
  diagnostics?: unknown;
  details?: { text?: unknown };
}

function issuesOf(value: unknown): Issue[] {
  if (!value || typeof value !== "object") return [];
  const issues = (value as { issue?: unknown }).issue;
  return Array.isArray(issues) ? issues.filter((i) => i && typeof i === "object") : [];
}

/** True when the value is an OperationOutcome resource. */
export function isOperationOutcome(value: unknown): boolean {
  return !!value && typeof value === "object" &&
    (value as { resourceType?: unknown }).resourceType === "OperationOutcome";
}

/** The human text of an OperationOutcome: each issue's details.text or diagnostics, joined. */
export function outcomeText(value: unknown): string {
  const texts = issuesOf(value).map((i) => {
    const text = i.details?.text ?? i.diagnostics ?? i.code;
    return typeof text === "string" ? text : "";
  }).filter(Boolean);
  return texts.join("; ");
}

/** True when some issue has severity `error` or `fatal`. */
export function hasErrorIssue(value: unknown): boolean {
  return issuesOf(value).some((i) => i.severity === "error" || i.severity === "fatal");
}

/** True when every issue is `transient` (the request failed, not the job). */
export function isTransientOutcome(value: unknown): boolean {
  const issues = issuesOf(value);
  return issues.length > 0 && issues.every((i) => i.code === "transient");
}

/**
 * A short text for an error response body: OperationOutcome text, OAuth `error_description`,
 * or the start of the body text.
 */
export function bodyText(body: unknown): string {
  if (isOperationOutcome(body)) return outcomeText(body);
  if (body && typeof body === "object") {
    const oauth = body as { error?: unknown; error_description?: unknown };
    if (typeof oauth.error_description === "string") return oauth.error_description;
    if (typeof oauth.error === "string") return oauth.error;
    return JSON.stringify(body).slice(0, 300);
  }
  if (typeof body === "string") return body.trim().replace(/\s+/g, " ").slice(0, 300);
  return "";
}
