/**
 * `smart-fetch export OUTPUT_DIR`: a managed folder that accumulates exports over time, one
 * numbered subfolder each, with top-level symlinks to the active files (SMART Fetch's layout).
 */

import { join } from "node:path";
import { authKind } from "../auth/mod.ts";
import { checkSelection, checkTypes, type SelectionFlags, withSince } from "../cli/selection.ts";
import { looksLikeUrl } from "../cli/parsers.ts";
import { cohortFrom, emptyCohortError, type IdCohort } from "../cohort/id_file.ts";
import type { BulkSummary } from "../bulk/exporter.ts";
import { runCrawl } from "../crawl/crawl_run.ts";
import { crawlOptions, crawlRequest, crawlSummaryText } from "./crawl_setup.ts";
import { ExitCode, SmartFetchError, UsageError } from "../errors.ts";
import { hydratedTypesIn, hydrationTable, runHydration } from "../hydrate/hydrate_run.ts";
import { mimetypesOf } from "./hydrate.ts";
import { Capabilities } from "../fhir/capability.ts";
import { Messages } from "../log/events.ts";
import { findNewPatients, writeDeletions } from "../workspace/deletions.ts";
import { ensureDir, removeStaleTemps } from "../workspace/files.ts";
import { FolderLock } from "../workspace/lock.ts";
import {
  checkNickname,
  type FolderKind,
  listSubfolders,
  readFolderKind,
  writeManagedMetadata,
} from "../workspace/managed.ts";
import { checkOutputDir } from "../workspace/output_dir.ts";
import { ExportLog } from "../log/export_log.ts";
import { type OutputMetadata, OutputMetadataStore } from "../workspace/metadata.ts";
import { rebuildSymlinks } from "../workspace/symlinks.ts";
import {
  type BulkRunFlags,
  cleanFolder,
  type CommandContext,
  exitCodeFor,
  levelOf,
  reportSummary,
  runBulkExport,
} from "./bulk_run.ts";
import { checkManagedFolder, type ExportPlan, planExport } from "./export_plan.ts";
import { checkHydrationTasks, hydrationHelp, wantsHelp } from "./hydration_tasks.ts";
import { checkFhirUrl, openSession, type ServerFlags, type Session } from "./session.ts";

/** The flags of `export`. */
export interface ExportFlags extends ServerFlags, SelectionFlags, BulkRunFlags {
  group?: string | undefined;
  nickname?: string | undefined;
  exportMode: "auto" | "bulk" | "crawl";
  idFile?: string | undefined;
  idList?: string | undefined;
  idSystem?: string | undefined;
  mrnFile?: string | undefined;
  mrnSystem?: string | undefined;
  groupNickname?: string | undefined;
  hydrationTasks?: string | undefined;
  verbose?: boolean | undefined;
}

/** Validates everything that needs neither the server nor the folder. */
async function checkFlags(
  dir: string | undefined,
  flags: ExportFlags,
): Promise<{ baseUrl: string; cohort: IdCohort | undefined }> {
  if (!dir) {
    throw new UsageError(
      "Give the output folder, for example: smart-fetch export --fhir-url URL ./out",
    );
  }
  if (looksLikeUrl(dir)) {
    throw new UsageError(
      `Expected a local folder, but "${dir}" looks like a URL. Give the server with --fhir-url.`,
    );
  }
  const baseUrl = checkFhirUrl(flags.fhirUrl);
  checkSelection(flags);
  authKind(flags);
  levelOf(flags);
  if (flags.nickname !== undefined) checkNickname(flags.nickname);
  checkHydrationTasks(flags.hydrationTasks);
  const cohort = await cohortFrom({
    idFile: flags.idFile ?? flags.mrnFile,
    idList: flags.idList,
    idSystem: flags.idSystem ?? flags.mrnSystem,
  }, { allowEmpty: true });
  if (cohort && flags.exportMode === "bulk") {
    throw new UsageError(
      "--export-mode bulk cannot export an ID cohort (--id-file/--id-list): a bulk export cannot be limited to a list of patients, so it would export every patient instead. Use --group for a bulk export, or crawl mode for the IDs.",
    );
  }
  if (cohort && flags.group !== undefined) {
    throw new UsageError(
      "Give either --group or an ID cohort (--id-file/--id-list), not both: they are two ways to name the patients.",
    );
  }
  return { baseUrl, cohort };
}

/** Runs `export`. Returns the exit code. */
export async function runExport(
  dir: string | undefined,
  flags: ExportFlags,
  ctx: CommandContext,
): Promise<number> {
  if (checkTypes(flags.type, ctx.out) === "help") return ExitCode.Ok;
  if (wantsHelp(flags.hydrationTasks)) {
    ctx.out(hydrationHelp());
    return ExitCode.Ok;
  }
  const { baseUrl, cohort } = await checkFlags(dir, flags);
  const out = dir!;
  const level = levelOf(flags);
  const group = level.kind === "group" ? level.id : null;
  const say = new Messages(ctx.reporter);
  const quiet = new Messages({ emit: () => {}, close: () => {} });

  // Plan without writing: a folder for another server or Group, a stale nickname or different
  // arguments for a reused subfolder are refused here, before anything is written.
  const existed = await checkOutputDir(out);
  const folder: FolderKind = existed ? await readFolderKind(out) : { kind: "none" };
  checkManagedFolder(out, folder, baseUrl, group);
  if (cohort?.ids.length === 0) await checkEmptyCohort(out, folder, cohort, say);
  const remembered = folder.kind === "managed" && folder.metadata.capabilities
    ? new Capabilities(folder.metadata.capabilities)
    : undefined;
  if (remembered) {
    const plan = planExport(out, await listSubfolders(out), flags, remembered, {
      clock: ctx.clock,
      say: quiet,
    });
    if (plan.existing?.metadata?.complete) return alreadyComplete(out, plan, ctx);
  }
  const session = await openSession(flags, {
    clock: ctx.clock,
    reporter: ctx.reporter,
    signal: ctx.signal,
    bulk: true,
  });
  // auto: crawl an ID cohort, and on Epic (its bulk export suits small cohorts only).
  const mode: "bulk" | "crawl" = flags.exportMode === "crawl" || cohort ||
      (flags.exportMode === "auto" && session.capabilities.kind === "epic")
    ? "crawl"
    : "bulk";
  if (mode === "crawl" && flags.exportMode === "auto" && !cohort) {
    say.info(
      "Epic server detected. Defaulting to a 'crawl' instead of a 'bulk' export for non-Patient resources.",
    );
  }
  planExport(out, await listSubfolders(out), flags, session.capabilities, {
    clock: ctx.clock,
    say: quiet,
  });

  // A folder that does not exist yet is created once the server accepts the export (bind late).
  let lock = existed ? await FolderLock.acquire(out, "export", ctx.clock.now()) : undefined;
  try {
    // Temporary files (and links) a killed run left at the top of the managed folder.
    if (existed) await removeStaleTemps(out);
    // Plan again under the lock: another run may have finished in between.
    const again: FolderKind = existed ? await readFolderKind(out) : { kind: "none" };
    checkManagedFolder(out, again, baseUrl, group);
    const subs = await listSubfolders(out);
    const plan = planExport(out, subs, flags, session.capabilities, { clock: ctx.clock, say });
    say.info(plan.choice.message);
    if (plan.existing?.metadata?.complete) return alreadyComplete(out, plan, ctx);
    for (const line of describeAutoSince(plan)) say.info(line);
    const managed = { "fhir-url": baseUrl, group, capabilities: session.capabilities.summary() };
    if (again.kind === "managed") await writeManagedMetadata(out, managed, ctx.clock);
    const bindRoot = async () => {
      if (!lock) {
        await ensureDir(out);
        lock = await FolderLock.acquire(out, "export", ctx.clock.now());
        checkManagedFolder(out, await readFolderKind(out), baseUrl, group);
      }
      await writeManagedMetadata(out, managed, ctx.clock);
    };
    return await exportInto(out, plan, { flags, mode, cohort, session, ctx, bindRoot });
  } finally {
    await lock?.release();
  }
}

/**
 * An empty cohort (every MRN of a group left the hospital's list) is exported only into a
 * managed folder with a finished earlier export: the new export then holds no patient, and
 * every patient of the earlier one is reported deleted. Anywhere else it is surely a mistake.
 */
async function checkEmptyCohort(
  out: string,
  folder: FolderKind,
  cohort: IdCohort,
  say: Messages,
): Promise<void> {
  const earlier = folder.kind === "managed"
    ? (await listSubfolders(out)).some((s) => s.metadata?.complete)
    : false;
  if (!earlier) {
    throw emptyCohortError(
      cohort.file,
      " An empty cohort is exported only into a managed folder with a finished earlier export, to report its patients deleted.",
    );
  }
  say.warn(
    `${
      cohort.file ? `The ID file "${cohort.file}"` : "--id-list"
    } holds no IDs: this export holds no patient, and every patient of the earlier exports in ${out} is reported deleted. Run Cumulus ETL on it with --allow-missing-resources: the ETL applies a type's deletions only where the folder holds a file of that type.`,
  );
}

/** What `--since auto` resolved to, in one line when every type shares it. */
function describeAutoSince(plan: ExportPlan): string[] {
  if (plan.autoTimes.size === 0) return [];
  const types = plan.request.types;
  if (plan.sinceValue) {
    const shared = types.every((t) => plan.autoTimes.get(t) === plan.sinceValue);
    return [
      shared
        ? `Using since value of '${plan.sinceValue}' for all types.`
        : `Using since value of '${plan.sinceValue}' for all types (the earliest of the earlier exports: a bulk export has one _since).`,
    ];
  }
  const missing = types.filter((t) => !plan.autoTimes.has(t));
  return [
    `No earlier export of ${
      missing.join(", ")
    }: exporting every type in full (a bulk export has one _since).`,
  ];
}

function alreadyComplete(dir: string, plan: ExportPlan, ctx: CommandContext): number {
  const md = plan.existing!.metadata!;
  ctx.out(
    `${plan.choice.message}\nThe export in ${
      join(dir, plan.choice.name)
    } is already complete; nothing to do. Use a new --nickname for a fresh export.\n`,
  );
  return exitCodeFor(md);
}

/** What {@linkcode exportInto} works with. */
interface IntoOptions {
  flags: ExportFlags;
  mode: "bulk" | "crawl";
  cohort: IdCohort | undefined;
  session: Session;
  ctx: CommandContext;
  bindRoot: () => Promise<void>;
}

/** Runs the export in its subfolder, then deletions, new patients and symlinks. */
async function exportInto(dir: string, plan: ExportPlan, o: IntoOptions): Promise<number> {
  const { flags, session, ctx } = o;
  const say = new Messages(ctx.reporter);
  const sub = join(dir, plan.choice.name);
  const existing = plan.existing?.metadata;
  if (existing) await cleanFolder(sub);
  const request = o.mode === "crawl"
    ? crawlRequest(plan, session.capabilities)
    : withSince(plan.request, plan.sinceValue, session.capabilities);
  const store = OutputMetadataStore.open(
    sub,
    existing ?? OutputMetadataStore.fresh({
      filters: request.filters,
      since: request.since ?? null,
      ...(request.sinceMode
        ? { sinceMode: request.sinceMode, sinceResources: request.sinceTypes }
        : {}),
      mode: o.mode,
    }, ctx.clock),
    ctx.clock,
    { bound: existing !== undefined },
  );
  if (plan.autoTimes.size) {
    // What was sent for each type (one bulk export has one _since), not just "auto".
    const value = plan.sinceValue;
    await store.update((m) => {
      m.sinceTimes = o.mode === "crawl"
        ? Object.fromEntries(plan.autoTimes)
        : Object.fromEntries(value ? request.types.map((t) => [t, value]) : []);
    });
  }
  const log = existing ? await ExportLog.open(sub, ctx.clock) : ExportLog.pending(sub, ctx.clock);
  const bind = async () => {
    await o.bindRoot();
    await ensureDir(sub);
    await log.attach();
    await store.bind();
  };
  let summary: BulkSummary | undefined;
  if (o.mode === "crawl") {
    const crawled = await runCrawl({
      ...crawlOptions({
        flags,
        cohort: o.cohort,
        folder: dir,
        outDir: sub,
        sourceDir: dir,
        request,
        sinceFor: (t) => plan.autoTimes.size ? plan.autoTimes.get(t) : request.since,
        session,
        ctx,
      }),
      store,
      log,
      bind,
      newPatients: async () => {
        const subs = await listSubfolders(dir);
        const current = subs.find((s) => s.name === plan.choice.name);
        if (!current) return undefined;
        current.metadata = store.current as OutputMetadata;
        return await findNewPatients({ dir, subs, current });
      },
    });
    ctx.out(crawlSummaryText(sub, crawled));
  } else {
    summary = await runBulkExport({
      dir: sub,
      store,
      log,
      bind,
      request,
      since: plan.sinceValue,
      level: levelOf(flags),
      flags,
      session,
      ctx,
    });
  }

  // Hydration on the new subfolder: notes inlined, referenced resources fetched, looping while
  // new types appear. Failures are recorded; only ones a rerun can fix keep it unfinished.
  const groups = checkHydrationTasks(flags.hydrationTasks);
  if (groups.length) {
    const hydrated = await runHydration({
      dir: sub,
      http: session.http,
      gzip: flags.compression,
      concurrency: flags.maxConnections,
      reporter: ctx.reporter,
      groups,
      mimetypes: mimetypesOf(undefined),
      maxAttachmentBytes: 50 * 1024 * 1024,
    });
    ctx.out(hydrationTable(hydrated));
    // What the subfolder holds, whichever run fetched it (a resumed run may fetch nothing).
    const types = await hydratedTypesIn(sub);
    await store.update((m) => {
      if (types.length) m.hydrated = types;
    });
    if (hydrated.transient) {
      throw new SmartFetchError(
        `${hydrated.transient} hydration download(s) failed after retries (see ${sub}/error/); rerun the same command to retry them.`,
      );
    }
  }

  ctx.reporter.emit({
    type: "phase",
    phase: "finishing",
    detail: "deletions, new patients, links",
  });
  const subs = await listSubfolders(dir);
  const current = subs.find((s) => s.name === plan.choice.name)!;
  const deleted = await writeDeletions({ dir, subs, current, gzip: flags.compression });
  for (const [type, n] of deleted) say.info(`Count of deleted ${type} resources: ${n}.`);
  if (o.mode === "bulk") {
    const newPatients = await findNewPatients({ dir, subs, current });
    if (newPatients !== undefined) say.info(`Count of new patients: ${newPatients.length}.`);
    await store.update((m) => {
      if (newPatients?.length) m.newPatients = newPatients;
      else delete m.newPatients;
    });
  }
  const links = await rebuildSymlinks(dir, await listSubfolders(dir));
  say.verbose(`${links} top-level links point at the active files.`);
  // Last of all: complete means every step above is done.
  await store.update((m) => {
    m.complete = true;
  });
  ctx.reporter.emit({ type: "phase", phase: "done" });
  return summary ? reportSummary(sub, summary, ctx, "Export") : ExitCode.Ok;
}
