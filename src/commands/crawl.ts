/** `smart-fetch crawl OUTPUT_DIR`: one per-patient search crawl into a plain folder, resumable. */

import { authKind } from "../auth/mod.ts";
import {
  checkSelection,
  checkTypes,
  type ExportRequest,
  resolveRequest,
  type SelectionFlags,
} from "../cli/selection.ts";
import { looksLikeUrl } from "../cli/parsers.ts";
import { cohortFrom } from "../cohort/id_file.ts";
import { runCrawl } from "../crawl/crawl_run.ts";
import { sinceClause } from "../crawl/search_plan.ts";
import { ExitCode, UsageError } from "../errors.ts";
import { Messages } from "../log/events.ts";
import { ExportLog } from "../log/export_log.ts";
import {
  OutputMetadataStore,
  parseOutputMetadata,
  readMetadataJson,
} from "../workspace/metadata.ts";
import { checkOutputDir } from "../workspace/output_dir.ts";
import { checkSameRequest } from "../workspace/request_check.ts";
import { cleanFolder, type CommandContext, PlainFolderLock } from "./bulk_run.ts";
import { bundleAfterExport } from "./bundle.ts";
import { type CrawlFlags, crawlOptions, crawlSummaryText } from "./crawl_setup.ts";
import { checkFhirUrl, openSession, type ServerFlags } from "./session.ts";

/** The flags of `crawl`. */
export interface CrawlCommandFlags extends ServerFlags, SelectionFlags, CrawlFlags {
  idFile?: string | undefined;
  idList?: string | undefined;
  idSystem?: string | undefined;
  mrnFile?: string | undefined;
  mrnSystem?: string | undefined;
  sourceDir?: string | undefined;
  /** Merge the finished crawl into one Bundle file (`bundle`). */
  bundle?: boolean | undefined;
}

/** Runs `crawl`. Returns the exit code. */
export async function runCrawlCommand(
  dir: string | undefined,
  flags: CrawlCommandFlags,
  ctx: CommandContext,
): Promise<number> {
  if (checkTypes(flags.type, ctx.out) === "help") return ExitCode.Ok;
  if (!dir) {
    throw new UsageError(
      "Give the output folder, for example: smart-fetch crawl --fhir-url URL ./out",
    );
  }
  if (looksLikeUrl(dir)) {
    throw new UsageError(
      `Expected a local folder, but "${dir}" looks like a URL. Give the server with --fhir-url.`,
    );
  }
  checkFhirUrl(flags.fhirUrl);
  if (flags.since === "auto") {
    throw new UsageError(
      `crawl does not support --since auto (it has no earlier exports to look at); use "smart-fetch export", or give a time.`,
    );
  }
  checkSelection(flags);
  authKind(flags);
  const cohort = await cohortFrom({
    idFile: flags.idFile ?? flags.mrnFile,
    idList: flags.idList,
    idSystem: flags.idSystem ?? flags.mrnSystem,
  });
  if (flags.sourceDir !== undefined && !(await Deno.stat(flags.sourceDir).catch(() => null))) {
    throw new UsageError(`Local folder '${flags.sourceDir}' does not exist.`);
  }
  const say = new Messages(ctx.reporter);
  const existed = await checkOutputDir(dir);
  const lock = await PlainFolderLock.open(dir, "crawl", ctx.clock, existed);
  try {
    if (existed) await cleanFolder(dir);
    const json = existed ? await readMetadataJson(dir) : undefined;
    if (json?.["kind"] === "managed") {
      throw new UsageError(
        `Folder ${dir} is a managed export folder, not an output folder. Use "smart-fetch export ${dir}" for it, or give crawl another folder.`,
      );
    }
    const existing = json ? parseOutputMetadata(json, dir) : undefined;
    const session = await openSession(flags, {
      clock: ctx.clock,
      reporter: ctx.reporter,
      signal: ctx.signal,
      bulk: false,
    });
    const resolved = resolveRequest(flags, session.capabilities, say);
    const sinceFor = () => resolved.since;
    const request: ExportRequest = {
      ...resolved,
      sinceTypes: resolved.types.filter((t) =>
        t !== "Patient" &&
        sinceClause(t, resolved.since, resolved.sinceMode, session.capabilities) !== undefined
      ).sort(),
    };
    const fresh = OutputMetadataStore.fresh({
      filters: request.filters,
      since: request.since ?? null,
      ...(request.sinceMode
        ? { sinceMode: request.sinceMode, sinceResources: request.sinceTypes }
        : {}),
      "fhir-url": session.http.baseUrl,
      group: flags.group ?? null,
      mode: "crawl",
    }, ctx.clock);
    if (existing) checkSameRequest(dir, existing, fresh);
    const store = OutputMetadataStore.open(dir, existing ?? fresh, ctx.clock, {
      bound: existing !== undefined,
    });
    if (
      request.types.every((t) => t in (store.current.done ?? {})) && store.current.crawl?.cohort
    ) {
      ctx.out(`Everything requested is already crawled in ${dir}; nothing to do.\n`);
      if (flags.bundle) await bundleAfterExport(dir, flags.compression, ctx);
      return ExitCode.Ok;
    }
    const log = existing ? await ExportLog.open(dir, ctx.clock) : ExportLog.pending(dir, ctx.clock);
    const summary = await runCrawl({
      ...crawlOptions({
        flags,
        cohort,
        folder: flags.sourceDir ?? dir,
        outDir: dir,
        sourceDir: flags.sourceDir ?? dir,
        request,
        sinceFor,
        session,
        ctx,
      }),
      store,
      log,
      bind: () => lock.bind(log, store),
    });
    ctx.reporter.emit({ type: "phase", phase: "done" });
    ctx.out(crawlSummaryText(dir, summary));
    if (flags.bundle) await bundleAfterExport(dir, flags.compression, ctx);
    return ExitCode.Ok;
  } finally {
    await lock.release();
  }
}
