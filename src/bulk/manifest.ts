/** The bulk export manifest: validated with zod, names checked before they touch the disk. */

import { z } from "zod";
import { ServerError } from "../errors.ts";
import { isTypeName } from "../fhir/resource_types.ts";

const entrySchema = z.looseObject({
  type: z.string(),
  url: z.string().min(1),
  count: z.number().int().nonnegative().optional(),
});

const manifestSchema = z.looseObject({
  transactionTime: z.string(),
  request: z.string().optional(),
  requiresAccessToken: z.boolean().optional(),
  output: z.array(entrySchema),
  error: z.array(entrySchema).optional(),
  /** STU4 renames `error` to `outcome`. */
  outcome: z.array(entrySchema).optional(),
  deleted: z.array(entrySchema).optional(),
  link: z.array(z.looseObject({ relation: z.string(), url: z.string() })).optional(),
});

/** One file the manifest lists. */
export interface ManifestEntry {
  itemType: "output" | "error" | "deleted";
  type: string;
  url: string;
  count?: number;
}

/** One manifest page, reduced to what we use. */
export interface ManifestPage {
  transactionTime: string;
  requiresAccessToken: boolean;
  entries: ManifestEntry[];
  /** The next page's URL (partial manifests), if any. */
  next: string | undefined;
  /** Counts for the log. */
  counts: { output: number; error: number; deleted: number };
}

/**
 * Parses a manifest page. Rejects names that are not FHIR type names (a hostile `type` such as
 * `../../x` never becomes a path) and URLs that are not http(s).
 */
export function parseManifest(body: unknown, from: string): ManifestPage {
  const parsed = manifestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ServerError(
      `The export manifest from ${from} is not valid (${
        issue ? `${issue.path.join(".") || "top level"}: ${issue.message}` : "unreadable"
      }).`,
      { url: from, body },
    );
  }
  const m = parsed.data;
  const entries: ManifestEntry[] = [];
  const add = (itemType: ManifestEntry["itemType"], list: z.infer<typeof entrySchema>[]) => {
    for (const e of list) {
      if (!isTypeName(e.type)) {
        throw new ServerError(
          `The export manifest from ${from} lists a file of type ${
            JSON.stringify(e.type)
          }, which is not a FHIR resource type name; refusing to use it as a file name.`,
          { url: from, body },
        );
      }
      let url: URL;
      try {
        url = new URL(e.url, from);
      } catch {
        throw new ServerError(
          `The export manifest from ${from} lists a bad URL ${JSON.stringify(e.url)}.`,
          {
            url: from,
          },
        );
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new ServerError(
          `The export manifest from ${from} lists a non-HTTP URL ${url.href}.`,
          {
            url: from,
          },
        );
      }
      entries.push({
        itemType,
        type: e.type,
        url: url.href,
        ...(e.count === undefined ? {} : { count: e.count }),
      });
    }
  };
  const errors = [...(m.error ?? []), ...(m.outcome ?? [])];
  add("output", m.output);
  add("error", errors);
  add("deleted", m.deleted ?? []);
  const next = m.link?.find((l) => l.relation === "next")?.url;
  return {
    transactionTime: m.transactionTime,
    requiresAccessToken: m.requiresAccessToken ?? true,
    entries,
    next: next ? new URL(next, from).href : undefined,
    counts: { output: m.output.length, error: errors.length, deleted: m.deleted?.length ?? 0 },
  };
}
