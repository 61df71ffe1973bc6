/**
 * Options with every default filled in, checked once at start.
 *
 * @module
 */

import type {
  AuthOptions,
  FakeServerOptions,
  IssueSeverity,
  LatencyOption,
  SyntheticOptions,
} from "./types.ts";

/** The resolved options the server runs with. */
export interface Config {
  seed: number;
  patients: number;
  resourcesPerFile: number;
  /** Base path without a trailing slash ("" for the root). */
  basePath: string;
  auth: AuthOptions;
  tokenLifetimeSeconds: number;
  smartConfiguration: boolean;
  capabilityOauthUris: boolean;
  scopeVersions: ("v1" | "v2")[];
  software: { name: string; version?: string; releaseDate?: string };
  publisher: string | undefined;
  fhirVersion: string;
  supportedTypes: string[] | undefined;
  lastUpdatedSearchParam: boolean;
  kickoffMethods: ("GET" | "POST")[];
  rejectRepeatedParams: boolean;
  maxConcurrentExports: number;
  pollsUntilReady: number;
  progressRetryAfter: string | null;
  requiresAccessToken: boolean;
  filesOnSecondOrigin: boolean;
  redirectFilesToSecondOrigin: boolean;
  manifestPageSize: number | undefined;
  gzipFiles: boolean;
  manifestErrors: { severity: IssueSeverity; code?: string; diagnostics: string }[];
  statusExpiredCode: 404 | 410;
  fileExpiredCode: 404 | 410;
  now: () => number;
  synthetic: SyntheticOptions | undefined;
  /** software.name is "Epic": EpisodeOfCare searches need `type`, no `_lastUpdated` by default. */
  epic: boolean;
  /** Largest HTTP chunk of a response body; Infinity for no limit. */
  chunkBytes: number;
  filesAsBinary: "json" | "xml" | undefined;
  binaryGzipContent: boolean;
  binaryKeyOrder: "data-last" | "data-first";
  manifestTypeOverrides: Record<string, string>;
  metadataHtml: boolean;
  htmlNotFound: boolean;
  latency: LatencyOption | undefined;
  heavyPatients: { count: number; observations: number } | undefined;
  relativeNextLinks: boolean;
  identifierOr: boolean;
  duplicateMrns: string[];
  searchOutcomes: "none" | "warning";
  logRequests: boolean;
}

/** The environment variable that sets the default `chunkBytes` (so a whole suite can rerun). */
const CHUNK_BYTES_ENV = "SMART_FETCH_FAKE_CHUNK_BYTES";

/** A positive integer, or Infinity. */
function chunkSize(name: string, value: number): number {
  if (value !== Infinity && !(Number.isInteger(value) && value > 0)) {
    throw new RangeError(`${name} must be a positive integer or Infinity, got ${value}`);
  }
  return value;
}

/**
 * `chunkBytes`: the option, else the environment variable (never in synthetic mode: the
 * benchmark stays fast), else no limit.
 */
function resolveChunkBytes(options: FakeServerOptions): number {
  if (options.chunkBytes !== undefined) return chunkSize("chunkBytes", options.chunkBytes);
  if (options.synthetic) return Infinity;
  const text = Deno.env.get(CHUNK_BYTES_ENV)?.trim() ?? "";
  if (text === "") return Infinity;
  // A typo must not silently run the suite unchunked.
  if (!/^[0-9]+$/.test(text) || Number(text) === 0) {
    throw new RangeError(`${CHUNK_BYTES_ENV} must be a positive integer, got "${text}"`);
  }
  return Number(text);
}

function oneOf<T extends string>(name: string, value: T | undefined, allowed: T[]): T | undefined {
  if (value !== undefined && !allowed.includes(value)) {
    throw new RangeError(`${name} must be one of ${allowed.join(", ")}, got "${value}"`);
  }
  return value;
}

function typeOverrides(overrides: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [from, to] of Object.entries(overrides ?? {})) {
    if (typeof to !== "string" || to === "") {
      throw new RangeError(`manifestTypeOverrides.${from} must be a resource type name`);
    }
    out[from] = to;
  }
  return out;
}

function latency(option: LatencyOption | undefined): LatencyOption | undefined {
  if (option === undefined) return undefined;
  if (option.kind === "constant") {
    if (!(Number.isFinite(option.ms) && option.ms >= 0)) {
      throw new RangeError(`latency.ms must be zero or more milliseconds, got ${option.ms}`);
    }
    return { kind: "constant", ms: option.ms };
  }
  if (option.kind === "longTail") {
    const seed = option.seed ?? 1;
    if (!Number.isInteger(seed)) {
      throw new RangeError(`latency.seed must be an integer, got ${seed}`);
    }
    return { kind: "longTail", seed };
  }
  throw new RangeError(
    `latency.kind must be "constant" or "longTail", got "${(option as { kind: unknown }).kind}"`,
  );
}

function count(name: string, value: number): number {
  if (!(Number.isInteger(value) && value >= 0)) {
    throw new RangeError(`${name} must be a whole number, zero or more, got ${value}`);
  }
  return value;
}

function heavyPatients(
  option: FakeServerOptions["heavyPatients"],
): Config["heavyPatients"] {
  if (option === undefined) return undefined;
  return {
    count: count("heavyPatients.count", option.count),
    observations: count("heavyPatients.observations", option.observations),
  };
}

function duplicateMrns(values: string[] | undefined): string[] {
  for (const value of values ?? []) {
    if (typeof value !== "string" || value === "") {
      throw new RangeError(`duplicateMrns must list MRN values, got ${JSON.stringify(value)}`);
    }
  }
  return [...(values ?? [])];
}

function positive(name: string, value: number, allowZero = false): number {
  if (!Number.isFinite(value) && value !== Infinity) {
    throw new RangeError(`${name} must be a number`);
  }
  if (value < 0 || (!allowZero && value === 0)) {
    throw new RangeError(
      `${name} must be ${allowZero ? "zero or more" : "positive"}, got ${value}`,
    );
  }
  return value;
}

/** Fills in defaults; throws RangeError on impossible values. */
export function resolveConfig(options: FakeServerOptions = {}): Config {
  const auth = options.auth ?? { mode: "none" };
  const software = options.software ??
    { name: "Fake FHIR", version: "1.0.0", releaseDate: "2026-01-01" };
  const epic = software.name === "Epic";
  const filesOnSecondOrigin = options.filesOnSecondOrigin ?? false;
  const basePath = (options.basePath ?? "/fhir").replace(/\/+$/, "");
  if (basePath !== "" && !basePath.startsWith("/")) {
    throw new RangeError(`basePath must start with "/", got "${options.basePath}"`);
  }
  const filesAsBinary = oneOf("filesAsBinary", options.filesAsBinary, ["json", "xml"]);
  if (filesAsBinary && (filesOnSecondOrigin || options.redirectFilesToSecondOrigin)) {
    throw new RangeError(
      "filesAsBinary serves files as [base]/Binary on the main origin; it cannot be combined " +
        "with filesOnSecondOrigin or redirectFilesToSecondOrigin",
    );
  }
  if (options.synthetic) {
    positive("synthetic.files", options.synthetic.files);
    positive("synthetic.bytesPerFile", options.synthetic.bytesPerFile);
  }
  return {
    seed: options.seed ?? 1,
    patients: positive("patients", options.patients ?? 20, true),
    resourcesPerFile: positive("resourcesPerFile", options.resourcesPerFile ?? 25),
    basePath,
    auth,
    tokenLifetimeSeconds: auth.mode === "smart" ? auth.tokenLifetimeSeconds ?? 300 : 300,
    smartConfiguration: options.smartConfiguration ?? true,
    capabilityOauthUris: options.capabilityOauthUris ?? true,
    scopeVersions: options.scopeVersions ?? ["v1", "v2"],
    software,
    publisher: options.publisher,
    fhirVersion: options.fhirVersion ?? "4.0.1",
    supportedTypes: options.supportedTypes,
    lastUpdatedSearchParam: options.lastUpdatedSearchParam ?? !epic,
    kickoffMethods: options.kickoffMethods ?? ["GET", "POST"],
    rejectRepeatedParams: options.rejectRepeatedParams ?? false,
    maxConcurrentExports: positive(
      "maxConcurrentExports",
      options.maxConcurrentExports ?? Infinity,
    ),
    pollsUntilReady: positive("pollsUntilReady", options.pollsUntilReady ?? 2, true),
    progressRetryAfter: options.progressRetryAfter === undefined ? "1" : options.progressRetryAfter,
    requiresAccessToken: options.requiresAccessToken ??
      (auth.mode !== "none" && !filesOnSecondOrigin),
    filesOnSecondOrigin,
    redirectFilesToSecondOrigin: options.redirectFilesToSecondOrigin ?? false,
    manifestPageSize: options.manifestPageSize === undefined
      ? undefined
      : positive("manifestPageSize", options.manifestPageSize),
    gzipFiles: options.gzipFiles ?? options.synthetic === undefined,
    manifestErrors: options.manifestErrors ?? [],
    statusExpiredCode: options.expiredStatusCode ?? 404,
    fileExpiredCode: options.expiredStatusCode ?? 410,
    now: options.now ?? Date.now,
    synthetic: options.synthetic,
    epic,
    chunkBytes: resolveChunkBytes(options),
    filesAsBinary,
    binaryGzipContent: options.binaryGzipContent ?? false,
    binaryKeyOrder: oneOf("binaryKeyOrder", options.binaryKeyOrder, ["data-last", "data-first"]) ??
      "data-last",
    manifestTypeOverrides: typeOverrides(options.manifestTypeOverrides),
    metadataHtml: options.metadataHtml ?? false,
    htmlNotFound: options.htmlNotFound ?? false,
    latency: latency(options.latency),
    heavyPatients: heavyPatients(options.heavyPatients),
    relativeNextLinks: options.relativeNextLinks ?? false,
    identifierOr: options.identifierOr ?? true,
    duplicateMrns: duplicateMrns(options.duplicateMrns),
    searchOutcomes: oneOf("searchOutcomes", options.searchOutcomes, ["none", "warning"]) ?? "none",
    logRequests: options.logRequests ?? true,
  };
}
