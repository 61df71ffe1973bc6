/**
 * What request handlers share: the resolved options, the data, the server's URLs and the
 * violation log.
 *
 * @module
 */

import type { AuthGate } from "./auth.ts";
import type { Config } from "./config.ts";
import type { DataStore } from "./store.ts";

/** Shared state of one running server. */
export interface ServerContext {
  config: Config;
  store: DataStore;
  auth: AuthGate;
  /** "http://127.0.0.1:PORT" of the main listener. */
  origin: string;
  /** origin + basePath. */
  baseUrl: string;
  /** "http://127.0.0.1:PORT" of the file listener. */
  secondOrigin: string;
  /** origin + "/auth/token". */
  tokenUrl: string;
  /** Resource types the server supports (CapabilityStatement, kick-off and search checks). */
  supportedTypes: string[];
  /** Protocol violations by the client, human-readable. */
  violations: string[];
}
