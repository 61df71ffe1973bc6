/** Turns the resource-selection flags into a checked export request for a given server. */

import { UsageError } from "../errors.ts";
import type { Capabilities } from "../fhir/capability.ts";
import { DEFAULT_TYPES, resolveTypeNames } from "../fhir/resource_types.ts";
import { addCreatedSince, buildTypeFilters, type TypeFilters } from "../fhir/type_filters.ts";
import type { Messages } from "../log/events.ts";

/** The resource-selection flags. */
export interface SelectionFlags {
  type?: string[] | undefined;
  typeFilter?: string[] | undefined;
  defaultFilters: boolean;
  since?: string | undefined;
  sinceMode: "auto" | "updated" | "created";
}

/** What to export, resolved against the server. */
export interface ExportRequest {
  /** Requested types the server supports, in processing order. */
  types: string[];
  /** Filters per type as recorded in `.metadata` (since clauses not included). */
  filters: TypeFilters;
  /** Every `Type?params` to send, created-mode since clauses included. */
  kickoffFilters: string[];
  since?: string | undefined;
  sinceMode?: "updated" | "created" | undefined;
  /** Types that got a since filter. */
  sinceTypes: string[];
}

/** The `--type help` text. */
export function typeHelp(): string {
  return [
    "Resource types smart-fetch exports (case-insensitive; 'all' selects every one, the default):",
    ...DEFAULT_TYPES.map((t) => `  ${t}`),
    "",
  ].join("\n");
}

/**
 * Handles `--type help` (prints the list; no server needed) and rejects unknown names before
 * anything else happens.
 */
export function checkTypes(
  values: string[] | undefined,
  out: (text: string) => void,
): "help" | undefined {
  if (values?.some((v) => v.split(",").some((t) => t.trim().toLowerCase() === "help"))) {
    out(typeHelp());
    return "help";
  }
  parseTypes(values);
  return undefined;
}

/** The requested types (default: all), or a UsageError naming the unknown ones. */
export function parseTypes(values: string[] | undefined): string[] {
  const { types, unknown } = resolveTypeNames(values?.length ? values : ["all"]);
  if (unknown.length) {
    throw new UsageError(
      `Unknown resource type${unknown.length > 1 ? "s" : ""} ${
        unknown.map((u) => `"${u}"`).join(", ")
      }. Supported: ${DEFAULT_TYPES.join(", ")} (see --type help).`,
    );
  }
  if (types.length === 0) throw new UsageError("--type selects no resource types.");
  return types;
}

/** Checks the selection flags before anything touches the network or the disk. */
export function checkSelection(flags: SelectionFlags): void {
  const wanted = parseTypes(flags.type);
  buildTypeFilters(wanted, flags.typeFilter ?? [], { defaultFilters: false, isEpic: false });
}

/**
 * Resolves the flags against the server: drops types it does not support (saying so), applies
 * the default Observation filter (Epic variant on Epic), and picks the since mode. The request
 * carries no since clauses yet: see {@linkcode withSince}.
 */
export function resolveRequest(
  flags: SelectionFlags,
  caps: Capabilities,
  say: Messages,
): ExportRequest {
  checkSelection(flags);
  const wanted = parseTypes(flags.type);
  const types = wanted.filter((t) => {
    if (caps.supportsType(t)) return true;
    say.info(`Skipping ${t} because the server does not support it.`);
    return false;
  });
  if (types.length === 0) {
    throw new UsageError("The server supports none of the requested resource types.");
  }
  const supportedFilters = (flags.typeFilter ?? []).filter((f) =>
    types.some((t) => f.toLowerCase().startsWith(`${t.toLowerCase()}?`))
  );
  const filters = buildTypeFilters(types, supportedFilters, {
    defaultFilters: flags.defaultFilters,
    isEpic: caps.kind === "epic",
  });
  const request: ExportRequest = {
    types,
    filters,
    kickoffFilters: flat(types, filters),
    sinceTypes: [],
  };
  if (!flags.since) return request;
  let mode = flags.sinceMode;
  if (mode === "auto") {
    mode = caps.hasSearchParam("Patient", "_lastUpdated") ? "updated" : "created";
    if (mode === "created") {
      say.info(
        "The server does not support the 'updated' since mode (no _lastUpdated search); using 'created'.",
      );
    }
  }
  return { ...request, since: flags.since, sinceMode: mode };
}

function flat(types: readonly string[], filters: TypeFilters): string[] {
  return types.flatMap((t) => (filters[t] ?? []).map((p) => `${t}?${p}`));
}

/**
 * The request with its since value applied (`value` may differ from the flag: `--since auto`
 * resolves to a time, or to none when a type has no history): updated mode sends `_since`;
 * created mode adds per-type created-date filters where the server supports them.
 */
export function withSince(
  request: ExportRequest,
  value: string | undefined,
  caps: Capabilities,
): ExportRequest {
  if (!value || !request.sinceMode) {
    return { ...request, kickoffFilters: flat(request.types, request.filters), sinceTypes: [] };
  }
  if (request.sinceMode === "updated") {
    return {
      ...request,
      kickoffFilters: flat(request.types, request.filters),
      sinceTypes: [...request.types].sort(),
    };
  }
  const created = addCreatedSince(request.filters, value, (t, p) => caps.hasSearchParam(t, p));
  return {
    ...request,
    kickoffFilters: flat(request.types, created.filters),
    sinceTypes: created.sinceTypes,
  };
}

/** A line saying what `--since` does in this request. */
export function describeSince(request: ExportRequest): string {
  if (request.sinceMode === "updated") {
    return `Exporting resources updated after ${request.since}.`;
  }
  const full = request.types.filter((t) => !request.sinceTypes.includes(t));
  return `Exporting resources created after ${request.since} for ${
    request.sinceTypes.join(", ") || "no type"
  }${
    full.length
      ? `; ${full.join(", ")} have no created-date search, so they are exported in full`
      : ""
  }.`;
}
