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
import { GENERATED_TYPES, generateData } from "./data/generate.ts";
import { ExportJobs } from "./export_jobs.ts";
import { FaultTable, statusFaultReply } from "./faults.ts";
import { Http1Listener, type RawRequest, type Reply } from "./http1.ts";
import { DELAYED_KINDS, latencyFor } from "./latency.ts";
import { RequestLog } from "./request_log.ts";
import { type Handlers, routeMain, routeSecond } from "./router.ts";
import { type Change, DataStore } from "./store.ts";
import { TokenEndpoint } from "./token_endpoint.ts";
import type {
  FakeServerOptions,
  FaultRule,
  LoggedRequest,
  RequestKind,
  Resource,
} from "./types.ts";

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
  /** Every request to either listener, in arrival order (empty with `logRequests: false`). */
  readonly requests: LoggedRequest[];
  /** Protocol violations by the client, human-readable. */
  readonly violations: string[] = [];

  readonly #config: Config;
  readonly #log: RequestLog;
  readonly #store: DataStore;
  readonly #faults = new FaultTable();
  readonly #main: Http1Listener;
  readonly #second: Http1Listener;
  readonly #handlers: Handlers;

  private constructor(config: Config) {
    this.#config = config;
    this.#log = new RequestLog(config.logRequests);
    this.requests = this.#log.entries;
    const data = generateData(config.seed, config.patients, {
      heavyPatients: config.heavyPatients,
      duplicateMrns: config.duplicateMrns,
    });
    this.#store = new DataStore(data, config.now);
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

  /**
   * Requests received so far, of every kind or of one (as routed: "search", "read", …). Counted
   * even with `logRequests: false`, for benchmarks.
   */
  requestCount(kind?: RequestKind): number {
    return this.#log.requestCount(kind);
  }

  /**
   * Milliseconds the server has made requests wait so far (`latencyMs` summed; a request still
   * waiting counts), of every kind or of one. Counted even with `logRequests: false`.
   */
  totalLatencyMs(kind?: RequestKind): number {
    return this.#log.totalLatencyMs(kind);
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
    const entry = this.#log.add({
      time: this.#config.now(),
      listener,
      method: request.method,
      path: request.path,
      query: request.query,
      headers: { ...request.headers },
      status: 0,
      kind: "other",
    });
    const seq = entry.seq;
    if (request.body.length > 0) entry.body = new TextDecoder().decode(request.body);
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
    // The latency option delays REST requests whatever their answer; a latency fault adds to it.
    const delay =
      (DELAYED_KINDS.has(route.kind) ? latencyFor(this.#config.latency, pathAndQuery) : 0) +
      (fault?.kind === "latency" ? fault.ms : 0);
    if (delay > 0) entry.latencyMs = delay;
    this.#log.count(route.kind, delay);
    // A read (search, read, Binary) is answered first and sent `delay` ms after it arrived: the
    // latency is the server's whole time, its own work included, as a real server's would be.
    // Anything else (a DELETE, a kick-off) waits first: its effect must not come early.
    const arrived = performance.now();
    const readFirst = DELAYED_KINDS.has(route.kind);
    if (!readFirst && delay > 0) await systemClock.sleep(delay, signal);
    const reply = await this.#answer(route, request, fault, entry);
    const left = delay - (performance.now() - arrived);
    if (readFirst && left > 0) await systemClock.sleep(left, signal);
    entry.answered = this.#config.now();
    entry.status = reply.status;
    return reply;
  }

  async #answer(
    route: ReturnType<typeof routeMain>,
    request: RawRequest,
    fault: ReturnType<FaultTable["take"]>,
    entry: LoggedRequest,
  ): Promise<Reply> {
    let reply: Reply;
    if (fault?.kind === "status") {
      reply = statusFaultReply(fault);
    } else {
      const denied = route.auth ? this.#handlers.ctx.auth.check(request.headers) : undefined;
      reply = denied ?? await route.run({
        setJobId: (id) => entry.jobId = id,
        shorten: fault?.kind === "shorten" ? fault : undefined,
      });
      if (fault?.kind === "reset" || fault?.kind === "truncate") {
        reply = { ...reply, cut: { mode: fault.kind, afterBytes: fault.afterBytes } };
      }
    }
    return reply;
  }
}
