/**
 * Planning a managed export without writing anything: which subfolder (reuse or create, with
 * SMART Fetch's rules and messages), what to request, and what `--since auto` means here.
 * Every mistake the folder can reveal is raised from here, before a byte is written.
 */

import { type ExportRequest, resolveRequest, type SelectionFlags } from "../cli/selection.ts";
import { UsageError } from "../errors.ts";
import type { Capabilities } from "../fhir/capability.ts";
import type { Messages } from "../log/events.ts";
import { localDate } from "../log/time_format.ts";
import { autoSince } from "../workspace/history.ts";
import {
  chooseSubfolder,
  type FolderKind,
  type Subfolder,
  type SubfolderChoice,
} from "../workspace/managed.ts";
import { checkSameRequest } from "../workspace/request_check.ts";
import { OutputMetadataStore } from "../workspace/metadata.ts";
import type { Clock } from "../clock.ts";

/** The parts of the flags planning needs. */
export interface PlanFlags extends SelectionFlags {
  nickname?: string | undefined;
}

/** A planned export. */
export interface ExportPlan {
  request: ExportRequest;
  choice: SubfolderChoice;
  /** The subfolder when it exists already. */
  existing: Subfolder | undefined;
  /** The `_since` (or created-date) value to send, when any. */
  sinceValue: string | undefined;
  /** Per-type times found for `--since auto`, for messages. */
  autoTimes: Map<string, string>;
}

/** Refuses a folder made for another server or Group (SMART Fetch's messages). */
export function checkManagedFolder(
  dir: string,
  folder: FolderKind,
  baseUrl: string,
  group: string | null,
): void {
  if (folder.kind === "output") {
    throw new UsageError(
      `Folder ${dir} is not a managed folder, but an output folder. Give export a new folder, or use "smart-fetch bulk" for this one.`,
    );
  }
  if (folder.kind !== "managed") return;
  const found = folder.metadata["fhir-url"].replace(/\/$/, "");
  if (found !== baseUrl.replace(/\/$/, "")) {
    throw new UsageError(
      `Target folder ${dir}/.metadata is for a different FHIR URL.\nExpected ${baseUrl}\nBut found ${found}\nEach managed folder holds the exports of one server: give another output folder for ${baseUrl}.`,
    );
  }
  if (folder.metadata.group !== group) {
    const other = folder.metadata.group;
    throw new UsageError(
      `Target folder ${dir}/.metadata is for a different Group.\nExpected ${
        group ?? "no Group"
      }, but found ${
        other ?? "no Group"
      }.\nEach managed folder holds the exports of one cohort: give another output folder${
        group ? ` for Group ${group}` : ""
      }, or ${other ? `use --group ${other}` : "leave out --group"} to add to this one.`,
    );
  }
}

/** The earliest of several ISO times. */
function earliest(times: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const t of times) if (!best || Date.parse(t) < Date.parse(best)) best = t;
  return best;
}

/**
 * Plans the export: resolves the request for this server, picks the subfolder, checks a reused
 * subfolder was made for the same request, and works out `--since auto`.
 */
export function planExport(
  dir: string,
  subs: readonly Subfolder[],
  flags: PlanFlags,
  caps: Capabilities,
  deps: { clock: Clock; say: Messages },
): ExportPlan {
  const request = resolveRequest(flags, caps, deps.say);
  const since = request.since ?? null;
  const choice = chooseSubfolder(subs, {
    filters: request.filters,
    since,
    sinceMode: request.sinceMode,
    nickname: flags.nickname,
    types: request.types,
    today: localDate(deps.clock.now()),
  });
  const existing = subs.find((s) => s.name === choice.name);
  if (existing?.metadata) {
    const wanted = OutputMetadataStore.fresh({
      filters: request.filters,
      since,
      ...(request.sinceMode ? { sinceMode: request.sinceMode } : {}),
    }, deps.clock);
    checkSameRequest(`${dir}/${existing.name}`, existing.metadata, wanted);
  }
  let sinceValue = since === "auto" ? undefined : request.since;
  let autoTimes = new Map<string, string>();
  if (since === "auto") {
    const earlier = subs.filter((s) => s.name !== choice.name);
    autoTimes = autoSince(earlier, request.types, request.filters, request.sinceMode!);
    if (autoTimes.size === 0) {
      throw new UsageError(
        "Could not detect a since value to use from previous exports.\nTry without a --since parameter, or provide a specific timestamp.",
      );
    }
    // One bulk export has one _since: the earliest, and none when a type has no history yet.
    sinceValue = request.types.every((t) => autoTimes.has(t))
      ? earliest(autoTimes.values())
      : undefined;
  }
  return { request, choice, existing, sinceValue, autoTimes };
}
