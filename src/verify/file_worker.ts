/**
 * The worker module the pool (check_pool.ts) starts when running from the sources.
 *
 * @module
 */

import { serveFileChecks } from "./worker_serve.ts";

serveFileChecks();
