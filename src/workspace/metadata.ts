/**
 * The `.metadata` files: SMART Fetch's keys (so its users' scripts keep working) plus what we need
 * to resume. Validated with zod on read; unknown keys are kept. Written atomically.
 */

import { join } from "node:path";
import { z } from "zod";
import type { Clock } from "../clock.ts";
import { ConfigError } from "../errors.ts";
import { isoLocalMicros } from "../log/time_format.ts";
import { VERSION } from "../version.ts";
import { writeFileAtomic } from "./files.ts";

/** Name of the metadata file in every folder we manage. */
export const METADATA_FILE = ".metadata";

const bulkFileSchema = z.object({
  /** Which manifest array the file came from. */
  itemType: z.enum(["output", "error", "deleted"]),
  /** The manifest `type` (checked to be a type name). */
  type: z.string(),
  /** Path relative to the folder: `Condition.001.ndjson.gz`, `error/OperationOutcome.001.ndjson.gz`. */
  name: z.string(),
  /** The URL as last seen in a manifest. */
  url: z.string(),
  /** The manifest's `count`, when given. */
  count: z.number().optional(),
  /** Once downloaded: resources (lines), NDJSON bytes received, bytes on disk. */
  resources: z.number().optional(),
  bytes: z.number().optional(),
  diskBytes: z.number().optional(),
});

/** One manifest entry with the local name we gave it. */
export type BulkFile = z.infer<typeof bulkFileSchema>;

const bulkStateSchema = z.object({
  /** The `exportId` of this export's rows in log.ndjson, kept across resumes. */
  exportId: z.string(),
  /** The status (polling) URL, saved as soon as the kick-off answered. */
  statusUrl: z.string(),
  /** The kick-off URL (with its query), for messages and the log. */
  kickoffUrl: z.string(),
  /** Types this kick-off asked for. */
  types: z.array(z.string()),
  /** When the kick-off answered (ISO). */
  kickoffTime: z.string(),
  /** The manifest, once the status URL answered 200. */
  manifest: z.object({
    transactionTime: z.string(),
    requiresAccessToken: z.boolean(),
    /** Every page was read. */
    complete: z.boolean(),
    files: z.array(bulkFileSchema),
  }).optional(),
  /**
   * Every file is downloaded and the types are marked done; only releasing the job on the server
   * is left. (A rerun then does just that, without counting the export twice.)
   */
  finished: z.boolean().optional(),
});

/** The state of the bulk export in flight. */
export type BulkState = z.infer<typeof bulkStateSchema>;

/** A crawl's own state (mode "crawl"): what the resumed run needs beyond the journal. */
const crawlStateSchema = z.looseObject({
  /** The `exportId` of the crawl's rows in log.ndjson (written once, at the end). */
  exportId: z.string(),
  /** When the crawl started (ISO): each type's transaction time is at most this. */
  started: z.string(),
  /** The resolved cohort: counts and what did not match (set once the cohort is saved). */
  cohort: z.looseObject({
    source: z.string(),
    patients: z.number(),
    ids: z.number().optional(),
    unmatched: z.number().optional(),
    multiple: z.number().optional(),
  }).optional(),
  /** Searches that failed in the last run, per type (retried by the next one). */
  failed: z.record(z.string(), z.number()).optional(),
  /** New patients were looked for (so a resumed run does not compare again). */
  newChecked: z.boolean().optional(),
});

/** A crawl's state in `.metadata`. */
export type CrawlState = z.infer<typeof crawlStateSchema>;

const outputSchema = z.looseObject({
  kind: z.literal("output"),
  timestamp: z.string(),
  version: z.string(),
  /** `{Type: [sorted filters]}` for every requested type; `[]` = unfiltered. */
  filters: z.record(z.string(), z.array(z.string())),
  /** `--since` exactly as given, or null. */
  since: z.string().nullable(),
  sinceMode: z.enum(["updated", "created"]).optional(),
  /** Types that got a since filter. */
  sinceResources: z.array(z.string()).optional(),
  /** `{Type: transaction time}` for every finished type. */
  done: z.record(z.string(), z.string()).optional(),
  /** SMART Fetch's key for the status URL of the job in flight. */
  "bulk-status": z.string().optional(),
  newPatients: z.array(z.string()).optional(),
  complete: z.boolean().optional(),
  /** Ours: the server, so a rerun against another one is refused. */
  "fhir-url": z.string().optional(),
  /** Ours: the Group, or null. */
  group: z.string().nullable().optional(),
  /** Ours: the bulk export in flight (resume state). */
  bulk: bulkStateSchema.optional(),
  /** Ours: error-severity issues the server reported, kept in error/. */
  serverErrors: z.number().optional(),
  /** Ours: how the export was made. */
  mode: z.enum(["bulk", "crawl"]).optional(),
  /** Ours: what the finished export holds (files, resources, NDJSON bytes), for `status`. */
  totals: z.object({ files: z.number(), resources: z.number(), bytes: z.number() }).optional(),
  /** Ours: why the last run stopped, when it failed (cleared when a run starts). */
  lastError: z.object({ message: z.string(), time: z.string() }).optional(),
  /** Ours: when `bulk --cancel` cancelled the export in flight (ISO). */
  cancelled: z.string().optional(),
  /** Ours: the server stopped answering (for `status`); cleared once it answers again. */
  unreachable: z.object({ since: z.string(), retries: z.number() }).optional(),
  /** Ours: types hydration wrote files of (`<Type>.referenced`, ...), for the links. */
  hydrated: z.array(z.string()).optional(),
  /** Ours: a crawl's state (cohort, failures). */
  crawl: crawlStateSchema.optional(),
  /** Ours: the times `--since auto` resolved to, per type. */
  sinceTimes: z.record(z.string(), z.string()).optional(),
});

/** A plain output folder's (or managed subfolder's) `.metadata`. */
export type OutputMetadata = z.infer<typeof outputSchema>;

/** Reads a `.metadata` file's raw JSON, or undefined when there is none. */
export async function readMetadataJson(dir: string): Promise<Record<string, unknown> | undefined> {
  const path = join(dir, METADATA_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  try {
    const json = JSON.parse(text);
    if (json && typeof json === "object" && !Array.isArray(json)) return json;
  } catch {
    // Reported below.
  }
  throw new ConfigError(
    `${path} is not valid JSON. Restore it from a backup, or move the folder aside and start again.`,
  );
}

/** Parses output metadata, with a message naming the file on failure. */
export function parseOutputMetadata(json: unknown, dir: string): OutputMetadata {
  const parsed = outputSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `${join(dir, METADATA_FILE)} is not a valid output .metadata file (${
        issue ? `${issue.path.join(".") || "top level"}: ${issue.message}` : "unreadable"
      }).`,
    );
  }
  return parsed.data;
}

/**
 * Holds a folder's output metadata and writes every change atomically. Changes are serialized,
 * so concurrent downloads can record progress safely.
 */
export class OutputMetadataStore {
  #queue: Promise<void> = Promise.resolve();
  #bound: boolean;
  private constructor(
    readonly dir: string,
    private data: OutputMetadata,
    private readonly clock: Clock,
    bound: boolean,
  ) {
    this.#bound = bound;
  }

  /**
   * Opens the store over existing metadata or a fresh object (not written until changed). With
   * `bound: false` (a folder the server has not accepted work for yet) changes stay in memory
   * until {@linkcode OutputMetadataStore.bind}, so a run that fails first writes nothing.
   */
  static open(
    dir: string,
    data: OutputMetadata,
    clock: Clock,
    options: { bound?: boolean } = {},
  ): OutputMetadataStore {
    return new OutputMetadataStore(dir, data, clock, options.bound ?? true);
  }

  /** Whether changes are written to disk. */
  get bound(): boolean {
    return this.#bound;
  }

  /** Writes the current content and every change from now on (the folder exists now). */
  async bind(): Promise<void> {
    if (this.#bound) return;
    this.#bound = true;
    await this.update(() => {});
  }

  /** A fresh output metadata object. */
  static fresh(
    init: Pick<OutputMetadata, "filters" | "since"> & Partial<OutputMetadata>,
    clock: Clock,
  ): OutputMetadata {
    return { kind: "output", timestamp: isoLocalMicros(clock.now()), version: VERSION, ...init };
  }

  /** The current content (do not mutate; use update). */
  get current(): Readonly<OutputMetadata> {
    return this.data;
  }

  /** Applies `change` to a copy and saves it. */
  update(change: (data: OutputMetadata) => void): Promise<void> {
    const next = this.#queue.then(async () => {
      const copy = structuredClone(this.data);
      change(copy);
      copy.timestamp = isoLocalMicros(this.clock.now());
      copy.version = VERSION;
      if (this.#bound) {
        await writeFileAtomic(join(this.dir, METADATA_FILE), JSON.stringify(copy, null, 2) + "\n");
      }
      this.data = copy;
    });
    this.#queue = next.catch(() => {});
    return next;
  }
}
