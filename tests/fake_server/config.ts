/**
 * Options with every default filled in, checked once at start.
 *
 * @module
 */

import type { AuthOptions, FakeServerOptions, IssueSeverity, SyntheticOptions } from "./types.ts";

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
  };
}
