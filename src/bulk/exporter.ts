/**
 * One bulk export into one folder, resumable at any point: kick-off (or resume from the saved
 * status URL), polling, manifest pages, downloads that skip finished files, expired URLs, and
 * the final DELETE. All state lives in the folder's `.metadata`; a finished file is one whose
 * final name exists (it is renamed into place only when complete).
 */

import { join } from "node:path";
import type { Clock } from "../clock.ts";
import { SmartFetchError } from "../errors.ts";
import type { Capabilities } from "../fhir/capability.ts";
import type { HttpClient } from "../http/client.ts";
import { Messages, type Reporter } from "../log/events.ts";
import type { ExportLog } from "../log/export_log.ts";
import type { BulkFile, BulkState, OutputMetadataStore } from "../workspace/metadata.ts";
import { downloadQueue, type FailedFile } from "./download_queue.ts";
import { type ExportLevel, kickoff } from "./kickoff.ts";
import type { ManifestPage } from "./manifest.ts";
import { assignNames } from "./naming.ts";
import { pollUntilReady } from "./poll.ts";
import { readManifestPages } from "./manifest_pages.ts";
import { refuseFailedFiles } from "./failed_files.ts";
import { countFile, readServerMessages, type ServerMessages } from "./server_messages.ts";

/** A folder never spends more than this many kick-offs in one run (expired exports redo). */
const MAX_KICKOFFS = 3;

/** Options for {@linkcode BulkExporter}. */
export interface BulkExportOptions {
  http: HttpClient;
  dir: string;
  store: OutputMetadataStore;
  log: ExportLog;
  reporter: Reporter;
  capabilities: Capabilities;
  clock: Clock;
  level: ExportLevel;
  /** Types wanted (the ones already done are left out of a kick-off). */
  types: readonly string[];
  /** Every `Type?params` filter for the kick-off, created-mode since clauses included. */
  typeFilters: readonly string[];
  /** `_since`, in updated mode. */
  since?: string | undefined;
  /** Preferred kick-off method. */
  method: "GET" | "POST";
  /** Compress files on disk. */
  gzip: boolean;
  /** Downloads at once (the client's connection cap still applies). */
  concurrency: number;
  /** Give up waiting for the server after this long. */
  maxWaitMs: number;
  /**
   * Called once the server has accepted a kick-off, before its status URL is saved: creates the
   * folder and writes what waited in memory (bind late: a refused kick-off writes nothing).
   */
  bind?: () => Promise<void>;
}

/** What a run did. */
export interface BulkSummary {
  /** Files downloaded in this run, and their totals. */
  downloaded: { files: number; resources: number; bytes: number; diskBytes: number };
  /** Files already complete from an earlier run. */
  alreadyHad: number;
  /** What the server said in its error files. */
  server: ServerMessages;
  /** Kick-offs sent in this run. */
  kickoffs: number;
}

type Outcome = { kind: "done" } | { kind: "redo"; types: string[]; reason: string };

/** Runs (or resumes) the bulk export of a folder. */
export class BulkExporter {
  readonly #o: BulkExportOptions;
  readonly #say: Messages;
  /** Files that failed their checks in this run. */
  #failed: FailedFile[] = [];
  readonly #summary: BulkSummary = {
    downloaded: { files: 0, resources: 0, bytes: 0, diskBytes: 0 },
    alreadyHad: 0,
    server: { errors: [], messages: [] },
    kickoffs: 0,
  };

  constructor(options: BulkExportOptions) {
    this.#o = options;
    this.#say = new Messages(options.reporter);
  }

  /** Exports every wanted type that is not done yet. */
  async run(): Promise<BulkSummary> {
    const { store } = this.#o;
    for (;;) {
      let state = store.current.bulk;
      const done = store.current.done ?? {};
      const missing = this.#o.types.filter((t) => !(t in done));
      if (!state) {
        if (missing.length === 0) break;
        if (this.#summary.kickoffs >= MAX_KICKOFFS) {
          throw new SmartFetchError(
            `Gave up after ${MAX_KICKOFFS} kick-offs in one run: the server's exports keep expiring before they can be downloaded. Run the same command again later.`,
          );
        }
        state = await this.#kickoff(missing);
      } else if (state.finished && state.manifest) {
        await this.#finish(state, state.manifest.files, false);
        continue;
      } else {
        this.#say.info(`Resuming the bulk export at ${state.statusUrl}`);
      }
      const outcome = await this.#complete(state);
      // The saved state has moved on (manifest, file stats) since `state` was read.
      if (outcome.kind === "redo") await this.#redo(store.current.bulk ?? state, outcome);
    }
    return this.#summary;
  }

  async #kickoff(types: string[]): Promise<BulkState> {
    const { http, log, store, capabilities, clock } = this.#o;
    this.#o.reporter.emit({ type: "phase", phase: "kickoff", detail: types.join(", ") });
    this.#summary.kickoffs++;
    const typeFilters = this.#o.typeFilters.filter((f) =>
      types.includes(f.slice(0, f.indexOf("?")))
    );
    await kickoff({ level: this.#o.level, types, typeFilters, since: this.#o.since }, {
      http,
      log,
      capabilities,
      method: this.#o.method,
      // Saved before anything else: a kill right after the kick-off must not start a second export.
      onStarted: async (started) => {
        await store.update((m) => {
          m["bulk-status"] = started.statusUrl;
          m.bulk = {
            exportId: started.exportId,
            statusUrl: started.statusUrl,
            kickoffUrl: started.url,
            types,
            kickoffTime: new Date(clock.now()).toISOString(),
          };
          delete m.cancelled;
        });
        await this.#o.bind?.();
      },
    });
    this.#say.info(`The server accepted the export. Status URL: ${store.current.bulk!.statusUrl}`);
    return store.current.bulk!;
  }

  /** Polls, reads the manifest, downloads; returns which types must be exported again, if any. */
  async #complete(state: BulkState): Promise<Outcome> {
    const { reporter } = this.#o;
    reporter.emit({ type: "phase", phase: "waiting" });
    const first = await this.#poll(state, !state.manifest);
    let files: BulkFile[];
    let requiresToken: boolean;
    let statusGone = false;
    if (first.kind === "expired") {
      if (!state.manifest?.complete) {
        return {
          kind: "redo",
          types: state.types,
          reason:
            `The server's status URL answered HTTP ${first.status}: the export expired before it finished.`,
        };
      }
      // The job is gone but its file list is saved: try the files we still need.
      this.#say.warn(
        `The status URL now answers HTTP ${first.status}; downloading the remaining files from the saved manifest.`,
      );
      statusGone = true;
      files = state.manifest.files;
      requiresToken = state.manifest.requiresAccessToken;
    } else {
      const pages = await this.#pages(first.page, state);
      files = await assignNames(
        this.#o.dir,
        pages.flatMap((p) => p.entries),
        state.manifest?.files ?? [],
        this.#o.gzip,
      );
      requiresToken = first.page.requiresAccessToken;
      await this.#saveManifest(first.page, files);
    }

    reporter.emit({ type: "phase", phase: "downloading" });
    let expired = await this.#downloadAll(files, requiresToken);
    await this.#failIfRefused();
    if (expired.length && !statusGone) {
      // Signed file URLs expire; a fresh poll of the same export usually gives new ones.
      this.#say.warn(`${expired.length} file URL(s) expired; asking the server for fresh ones.`);
      const again = await this.#poll(this.#o.store.current.bulk!, false);
      if (again.kind === "ready") {
        const pages = await this.#pages(again.page, undefined);
        files = await assignNames(
          this.#o.dir,
          pages.flatMap((p) => p.entries),
          files,
          this.#o.gzip,
        );
        await this.#saveManifest(again.page, files);
        const names = new Set(expired.map((f) => f.name));
        expired = await this.#downloadAll(
          files.filter((f) => names.has(f.name)),
          again.page.requiresAccessToken,
        );
        await this.#failIfRefused();
      } else {
        statusGone = true;
      }
    }
    if (expired.some((f) => f.itemType === "deleted")) {
      return {
        kind: "redo",
        types: state.types,
        reason: "A file of deletions expired before it could be downloaded.",
      };
    }
    const expiredTypes = [
      ...new Set(expired.filter((f) => f.itemType === "output").map((f) => f.type)),
    ];
    for (const f of expired.filter((f) => f.itemType === "error")) {
      this.#say.warn(
        `The server's error file ${f.url} expired before it could be downloaded; its messages are lost.`,
      );
    }
    if (expiredTypes.length) {
      return {
        kind: "redo",
        types: expiredTypes.filter((t) => state.types.includes(t)),
        reason: `Files of ${expiredTypes.join(", ")} expired before they could be downloaded.`,
      };
    }

    await this.#finish(state, files, statusGone);
    return { kind: "done" };
  }

  async #poll(state: BulkState, logStatus: boolean) {
    const { http, log, reporter, clock } = this.#o;
    return await pollUntilReady(state.statusUrl, {
      http,
      log,
      reporter,
      clock,
      exportId: state.exportId,
      startedMs: Date.parse(state.kickoffTime),
      maxWaitMs: this.#o.maxWaitMs,
      logStatus,
    });
  }

  /** Reads every manifest page (partial manifests), logging them the first time only. */
  #pages(first: ManifestPage, state: BulkState | undefined): Promise<ManifestPage[]> {
    const logAs = state !== undefined && !state.manifest ? state.exportId : undefined;
    return readManifestPages(first, { http: this.#o.http, log: this.#o.log, logAs });
  }

  async #saveManifest(first: ManifestPage, files: BulkFile[]): Promise<void> {
    await this.#o.store.update((m) => {
      m.bulk!.manifest = {
        transactionTime: first.transactionTime,
        requiresAccessToken: first.requiresAccessToken,
        complete: true,
        files,
      };
    });
  }

  /** Downloads every file not on disk yet; returns those whose URLs expired. */
  async #downloadAll(files: BulkFile[], requiresToken: boolean): Promise<BulkFile[]> {
    const { store } = this.#o;
    const result = await downloadQueue(files, {
      http: this.#o.http,
      dir: this.#o.dir,
      gzip: this.#o.gzip,
      auth: requiresToken,
      reporter: this.#o.reporter,
      log: this.#o.log,
      exportId: store.current.bulk!.exportId,
      clock: this.#o.clock,
      concurrency: this.#o.concurrency,
      save: (finished) =>
        store.update((m) => {
          for (const f of m.bulk?.manifest?.files ?? []) {
            Object.assign(f, finished.get(f.name) ?? {});
          }
        }),
    });
    const d = this.#summary.downloaded;
    d.files += result.downloaded.files;
    d.resources += result.downloaded.resources;
    d.bytes += result.downloaded.bytes;
    d.diskBytes += result.downloaded.diskBytes;
    this.#summary.alreadyHad += result.alreadyHad;
    this.#failed.push(...result.failed);
    return result.expired;
  }

  /** Stops before finishing when files failed their checks (see {@linkcode refuseFailedFiles}). */
  async #failIfRefused(): Promise<void> {
    await refuseFailedFiles(this.#failed, { dir: this.#o.dir, gzip: this.#o.gzip });
  }

  /** Marks the export's types done, reports server messages, logs, and releases the server job. */
  async #finish(state: BulkState, files: BulkFile[], statusGone: boolean): Promise<void> {
    const { store, log, dir, clock } = this.#o;
    this.#o.reporter.emit({ type: "phase", phase: "finishing" });
    const server = await readServerMessages(dir, files.filter((f) => f.itemType === "error"));
    this.#summary.server.errors.push(...server.errors);
    this.#summary.server.messages.push(...server.messages);
    if (!store.current.bulk!.finished) {
      const manifest = store.current.bulk!.manifest!;
      const transactionTime = Number.isNaN(Date.parse(manifest.transactionTime))
        ? new Date(clock.now()).toISOString()
        : manifest.transactionTime;
      const total = { files: manifest.files.length, resources: 0, bytes: 0 };
      for (const f of manifest.files) {
        // A kill between a file's rename and the next progress save loses only its counts.
        const stats = f.resources === undefined ? await countFile(join(dir, f.name)) : f;
        total.resources += stats.resources ?? 0;
        total.bytes += stats.bytes ?? 0;
      }
      await log.write(state.exportId, "export_complete", {
        ...total,
        attachments: null,
        duration: clock.now() - Date.parse(state.kickoffTime),
      });
      // One atomic step: the types are done, the export is counted once, and only the release
      // is left.
      await store.update((m) => {
        m.done ??= {};
        for (const t of state.types) m.done[t] = transactionTime;
        if (server.errors.length) m.serverErrors = (m.serverErrors ?? 0) + server.errors.length;
        const before = m.totals ?? { files: 0, resources: 0, bytes: 0 };
        m.totals = {
          files: before.files + total.files,
          resources: before.resources + total.resources,
          bytes: before.bytes + total.bytes,
        };
        m.bulk!.finished = true;
      });
    }
    if (!statusGone) await this.#release(state.statusUrl);
    await store.update((m) => {
      delete m.bulk;
      delete m["bulk-status"];
    });
  }

  /** Sends the DELETE that frees the job on the server (Epic allows one export per client). */
  async #release(statusUrl: string): Promise<void> {
    try {
      await this.#o.http.request(statusUrl, {
        method: "DELETE",
        acceptStatuses: [404, 410],
        retry: { maxAttempts: 3 },
      }, (res) => Promise.resolve(res.body?.cancel()));
    } catch (err) {
      this.#say.warn(
        `Could not release the export job on the server (${
          (err as Error).message
        }). It will expire on its own.`,
      );
    }
  }

  /**
   * Gives up on the current export for `types`: their partial files are removed (a new export
   * sends them all again, and keeping both would duplicate data), the other types of the export
   * are marked done, and the next loop kicks off anew.
   */
  async #redo(state: BulkState, outcome: { types: string[]; reason: string }): Promise<void> {
    const { store, dir } = this.#o;
    this.#say.warn(`${outcome.reason} Starting a new export of ${outcome.types.join(", ")}.`);
    const files = state.manifest?.files ?? [];
    for (const f of files) {
      if (f.itemType === "output" && outcome.types.includes(f.type)) {
        await Deno.remove(join(dir, f.name)).catch(() => {});
      }
    }
    const finishedTypes = state.types.filter((t) => !outcome.types.includes(t));
    if (state.manifest && finishedTypes.length) {
      const time = state.manifest.transactionTime;
      await store.update((m) => {
        m.done ??= {};
        for (const t of finishedTypes) m.done[t] = time;
      });
    }
    await this.#release(state.statusUrl);
    await store.update((m) => {
      delete m.bulk;
      delete m["bulk-status"];
    });
  }
}
