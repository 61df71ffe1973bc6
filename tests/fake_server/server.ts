/**
 * The FakeFhirServer: two raw HTTP/1.1 listeners on 127.0.0.1 (the FHIR origin and a second
 * origin for files), a request log, fault injection and test hooks to change the data.
 *
 * @module
 */

import { systemClock } from "../../src/clock.ts";
import { AuthGate } from "./auth.ts";
import { type Config, resolveConfig } from "./config.ts";
import type { ServerContext } from "./context.ts";
import { GENERATED_TYPES } from "./data/generate.ts";
import { ExportJobs } from "./export_jobs.ts";
import { FaultTable, statusFaultReply } from "./faults.ts";
import { Http1Listener, type RawRequest, type Reply } from "./http1.ts";
import { type Handlers, routeMain, routeSecond } from "./router.ts";
import { type Change, DataStore } from "./store.ts";
import { TokenEndpoint } from "./token_endpoint.ts";
import type { FakeServerOptions, FaultRule, LoggedRequest, Resource } from "./types.ts";

const HOST = "127.0.0.1";

/** A realistic fake FHIR server with Bulk Data export, search and SMART backend auth. */
export class FakeFhirServer {
  /** "http://127.0.0.1:PORT" of the FHIR listener. */
  readonly origin: string;
  /** origin + basePath. */
  readonly baseUrl: string;
  /** "http://127.0.0.1:OTHERPORT": the file listener (a different origin). */
  readonly secondOrigin: string;
  /** origin + "/auth/token". */
  readonly tokenUrl: string;
  /** Every request to either listener, in arrival order. */
  readonly requests: LoggedRequest[] = [];
  /** Protocol violations by the client, human-readable. */
  readonly violations: string[] = [];

  readonly #config: Config;
  readonly #store: DataStore;
  readonly #faults = new FaultTable();
  readonly #main: Http1Listener;
  readonly #second: Http1Listener;
  readonly #handlers: Handlers;

  private constructor(config: Config) {
    this.#config = config;
    this.#store = new DataStore(config.seed, config.patients, config.now);
    const framing = { chunkBytes: config.chunkBytes };
    this.#main = Http1Listener.listen(
      HOST,
      (req, signal) => this.#handle("main", req, signal),
      framing,
    );
    this.#second = Http1Listener.listen(
      HOST,
      (req, signal) => this.#handle("second", req, signal),
      framing,
    );
    this.origin = `http://${HOST}:${this.#main.port}`;
    this.baseUrl = this.origin + config.basePath;
    this.secondOrigin = `http://${HOST}:${this.#second.port}`;
    this.tokenUrl = `${this.origin}/auth/token`;
    const auth = new AuthGate(config);
    const ctx: ServerContext = {
      config,
      store: this.#store,
      auth,
      origin: this.origin,
      baseUrl: this.baseUrl,
      secondOrigin: this.secondOrigin,
      tokenUrl: this.tokenUrl,
      supportedTypes: config.supportedTypes ?? GENERATED_TYPES,
      violations: this.violations,
    };
    this.#handlers = {
      ctx,
      jobs: new ExportJobs(ctx),
      token: new TokenEndpoint(config, auth, this.tokenUrl),
    };
  }

  /** Generates the data and starts both listeners on free ports. */
  static start(options?: FakeServerOptions): Promise<FakeFhirServer> {
    return Promise.resolve(new FakeFhirServer(resolveConfig(options)));
  }

  /** Adds a fault rule (checked in the order added). */
  addFault(rule: FaultRule): void {
    this.#faults.add(rule);
  }

  /** Removes every fault rule. */
  clearFaults(): void {
    this.#faults.clear();
  }

  /** Every existing status URL now answers 404 (or `expiredStatusCode`). */
  expireExports(): void {
    this.#handlers.jobs.expireExports();
  }

  /** Every file URL issued so far answers 410; a new poll of a live export lists fresh URLs. */
  expireFiles(): void {
    this.#handlers.jobs.expireFiles();
  }

  /** Adds, touches (meta.lastUpdated = now) and removes resources. Exports already started keep their snapshot. */
  mutate(change: Change): void {
    this.#store.mutate(change);
  }

  /** The current resources of a type (read-only), for assertions. */
  resources(type: string): Resource[] {
    return this.#store.resources(type);
  }

  /** Patient ids of a Group. Throws for an unknown Group. */
  groupMembers(groupId: string): string[] {
    const members = this.#store.groupMembers(groupId);
    if (!members) throw new Error(`There is no Group "${groupId}"`);
    return members;
  }

  /** Stops both listeners, dropping open connections. */
  async close(): Promise<void> {
    await Promise.all([this.#main.close(), this.#second.close()]);
  }

  /** `await using server = await FakeFhirServer.start()` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #handle(
    listener: "main" | "second",
    request: RawRequest,
    signal: AbortSignal,
  ): Promise<Reply> {
    const seq = this.requests.length + 1;
    const entry: LoggedRequest = {
      seq,
      time: this.#config.now(),
      listener,
      method: request.method,
      path: request.path,
      query: request.query,
      headers: { ...request.headers },
      status: 0,
      kind: "other",
    };
    if (request.body.length > 0) entry.body = new TextDecoder().decode(request.body);
    this.requests.push(entry);
    if (listener === "second" && "authorization" in request.headers) {
      this.violations.push(
        `request #${seq} (${request.method} ${request.path}) to the second origin carried an Authorization header`,
      );
    }
    const route = listener === "main"
      ? routeMain(this.#handlers, request, seq)
      : routeSecond(this.#handlers, request, seq);
    entry.kind = route.kind;
    if (route.jobId !== undefined) entry.jobId = route.jobId;

    const pathAndQuery = request.query === "" ? request.path : `${request.path}?${request.query}`;
    const fault = this.#faults.take(route.kind, pathAndQuery);
    let reply: Reply;
    if (fault?.kind === "status") {
      reply = statusFaultReply(fault);
    } else {
      if (fault?.kind === "latency") await systemClock.sleep(fault.ms, signal);
      const denied = route.auth ? this.#handlers.ctx.auth.check(request.headers) : undefined;
      reply = denied ?? await route.run({
        setJobId: (id) => entry.jobId = id,
        shorten: fault?.kind === "shorten" ? fault : undefined,
      });
      if (fault?.kind === "reset" || fault?.kind === "truncate") {
        reply = { ...reply, cut: { mode: fault.kind, afterBytes: fault.afterBytes } };
      }
    }
    entry.status = reply.status;
    return reply;
  }
}
