/**
 * A realistic fake FHIR server for tests, the benchmark and the demo: FHIR Bulk Data export
 * (system, Patient and Group level; GET and POST kick-off; paged manifests), search, Binary,
 * SMART Backend Services auth with real JWT verification, fault injection and a request log.
 *
 * ```ts
 * await using server = await FakeFhirServer.start({ patients: 5 });
 * const res = await fetch(`${server.baseUrl}/Patient?_count=2`);
 * ```
 *
 * @module
 */

export { FakeFhirServer } from "./server.ts";
export type { Change } from "./store.ts";
export { LINE_BYTES as SYNTHETIC_LINE_BYTES } from "./synthetic.ts";
export { MRN_SYSTEM } from "./data/patient.ts";
export { OBS_CATEGORIES } from "./codes.ts";
export { DELAYED_KINDS, latencyFor, LONG_TAIL } from "./latency.ts";
export type {
  AuthOptions,
  FakeServerOptions,
  Fault,
  FaultRule,
  IssueSeverity,
  LatencyOption,
  LoggedRequest,
  RequestKind,
  Resource,
  ShortenFault,
  SmartClient,
  SyntheticOptions,
} from "./types.ts";
